package clickhouse

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
)

// The scans (exports) read their rows through this minimal client of
// ClickHouse's native protocol, which does SELECT and nothing else.
// clickhouse-go decodes a String cell by reading its length a byte at a
// time through three layers of readers and allocates a string for each
// cell: that was half the CPU of a million-row export, which made the
// export slower than clickhouse-client on a two-core machine. Here a
// block's String column is parsed straight out of the read buffer into one
// string, and cells are substrings of it (BenchmarkExportClickHouse).
//
// It speaks protocol revision 54405, which Debian's ClickHouse 18.16 and
// current releases both accept: below it the server sends no logs,
// profile events or custom serializations, and takes settings in the old
// encoding (none are sent).
const nativeRevision = 54405

// Packet codes of the native protocol (ClickHouse src/Core/Protocol.h).
const (
	clientHello = 0
	clientQuery = 1
	clientData  = 2

	serverHello       = 0
	serverData        = 1
	serverException   = 2
	serverProgress    = 3
	serverEndOfStream = 5
	serverProfileInfo = 6
	serverTotals      = 7
	serverExtremes    = 8
)

// Limits on what a block may claim, so that a corrupt stream fails with an
// error instead of a huge allocation.
const (
	maxBlockRows = 1 << 24
	maxStringLen = 1 << 30
)

// nativeConfig is where and as whom the scans connect.
type nativeConfig struct {
	addrs                    []string
	database, user, password string
	tls                      *tls.Config
	dialTimeout              time.Duration
	hostname                 string // this machine's, for the server's query log
}

// nativeConn is one connection, used for one query.
type nativeConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte // the packet being written
}

// dialNative connects and says hello to the first address that answers.
func dialNative(ctx context.Context, cfg nativeConfig) (*nativeConn, error) {
	var errs []error
	for _, addr := range cfg.addrs {
		c, err := dialOne(ctx, cfg, addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("no address")
	}
	return nil, errors.Join(errs...)
}

func dialOne(ctx context.Context, cfg nativeConfig, addr string) (*nativeConn, error) {
	d := net.Dialer{Timeout: cfg.dialTimeout}
	var c net.Conn
	var err error
	if cfg.tls != nil {
		c, err = (&tls.Dialer{NetDialer: &d, Config: cfg.tls}).DialContext(ctx, "tcp", addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	n := &nativeConn{c: c, r: bufio.NewReaderSize(c, 256<<10)}
	if cfg.dialTimeout > 0 {
		c.SetDeadline(time.Now().Add(cfg.dialTimeout))
	}
	if err := n.hello(cfg); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return n, nil
}

func (n *nativeConn) hello(cfg nativeConfig) error {
	b := n.buf[:0]
	b = binary.AppendUvarint(b, clientHello)
	b = appendString(b, "usagelog")
	b = binary.AppendUvarint(b, 1) // client version major
	b = binary.AppendUvarint(b, 0) // minor
	b = binary.AppendUvarint(b, nativeRevision)
	b = appendString(b, cfg.database)
	user := cfg.user
	if user == "" {
		user = "default"
	}
	b = appendString(b, user)
	b = appendString(b, cfg.password)
	n.buf = b
	if _, err := n.c.Write(b); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	packet, err := binary.ReadUvarint(n.r)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	switch packet {
	case serverHello:
	case serverException:
		return n.exception()
	default:
		return fmt.Errorf("hello: unexpected packet %d", packet)
	}
	if _, err := n.str(); err != nil { // server name
		return fmt.Errorf("hello: %w", err)
	}
	var v [3]uint64 // major, minor, revision
	for i := range v {
		if v[i], err = binary.ReadUvarint(n.r); err != nil {
			return fmt.Errorf("hello: %w", err)
		}
	}
	if v[2] < nativeRevision {
		return fmt.Errorf("hello: server revision %d is older than %d", v[2], nativeRevision)
	}
	// The rest of revision 54405's hello: timezone, display name, version
	// patch.
	for range 2 {
		if _, err := n.str(); err != nil {
			return fmt.Errorf("hello: %w", err)
		}
	}
	if _, err := binary.ReadUvarint(n.r); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	return nil
}

// send sends a SELECT and the empty block that ends the (absent) external
// tables, as the protocol wants.
func (n *nativeConn) send(query, hostname string) error {
	b := n.buf[:0]
	b = binary.AppendUvarint(b, clientQuery)
	b = appendString(b, "") // query id: the server makes one
	// Client info.
	b = append(b, 1)        // initial query
	b = appendString(b, "") // initial user
	b = appendString(b, "") // initial query id
	b = appendString(b, n.c.LocalAddr().String())
	b = append(b, 1)              // interface: TCP
	b = appendString(b, "")       // OS user
	b = appendString(b, hostname) // client hostname
	b = appendString(b, "usagelog")
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, 0)
	b = binary.AppendUvarint(b, nativeRevision)
	b = appendString(b, "")        // quota key
	b = binary.AppendUvarint(b, 0) // version patch
	b = appendString(b, "")        // end of settings
	b = binary.AppendUvarint(b, 2) // stage: complete
	b = binary.AppendUvarint(b, 0) // no compression
	b = appendString(b, query)
	// The empty data block.
	b = binary.AppendUvarint(b, clientData)
	b = appendString(b, "")
	b = binary.AppendUvarint(b, 1) // block info: is_overflows
	b = append(b, 0)
	b = binary.AppendUvarint(b, 2) // bucket_num
	b = binary.LittleEndian.AppendUint32(b, 0xffffffff)
	b = binary.AppendUvarint(b, 0) // end of block info
	b = binary.AppendUvarint(b, 0) // columns
	b = binary.AppendUvarint(b, 0) // rows
	n.buf = b
	_, err := n.c.Write(b)
	return err
}

// exception reads an Exception packet (after its code) as an error.
func (n *nativeConn) exception() error {
	var b [4]byte
	if _, err := io.ReadFull(n.r, b[:]); err != nil {
		return fmt.Errorf("exception: %w", err)
	}
	code := int32(binary.LittleEndian.Uint32(b[:]))
	var parts [3]string // name, message, stack trace
	for i := range parts {
		s, err := n.str()
		if err != nil {
			return fmt.Errorf("exception: %w", err)
		}
		parts[i] = s
	}
	// Nested exceptions follow; the first says what went wrong, and the
	// connection is closed after it.
	return &ServerError{Code: code, Message: strings.TrimSpace(parts[1])}
}

// ServerError is an exception that ClickHouse sent in answer to a query.
type ServerError struct {
	Code    int32
	Message string
}

func (e *ServerError) Error() string {
	return "code " + strconv.Itoa(int(e.Code)) + ": " + e.Message
}

// str reads a string of the protocol (names, types, messages). It reads
// what arrives rather than allocating what the length claims.
func (n *nativeConn) str() (string, error) {
	l, err := binary.ReadUvarint(n.r)
	if err != nil {
		return "", err
	}
	if l > maxStringLen {
		return "", fmt.Errorf("string of %d bytes", l)
	}
	var b strings.Builder
	if _, err := io.CopyN(&b, n.r, int64(l)); err != nil {
		return "", err
	}
	return b.String(), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// nativeColumn is one column of a block: a String column's cells are
// substrings of str, cell i ending at ends[i] (32 bits: the scan touches
// less memory); an integer column's are ints.
type nativeColumn struct {
	name, typ string
	text      bool // a String column: cells in str, else in ints
	str       string
	ends      []uint32
	ints      []int64
	raw       []byte // scratch the strings are read into
}

func (c *nativeColumn) cell(i int) string {
	start := 0
	if i > 0 {
		start = int(c.ends[i-1])
	}
	return c.str[start:int(c.ends[i])]
}

// block reads a data block: its columns' names, types and cells.
func (n *nativeConn) block(cols []nativeColumn) ([]nativeColumn, int, error) {
	if _, err := n.str(); err != nil { // external table name, always ""
		return cols, 0, err
	}
	for { // block info fields
		field, err := binary.ReadUvarint(n.r)
		if err != nil {
			return cols, 0, err
		}
		if field == 0 {
			break
		}
		var skip int
		switch field {
		case 1: // is_overflows
			skip = 1
		case 2: // bucket_num
			skip = 4
		default:
			return cols, 0, fmt.Errorf("unknown block info field %d", field)
		}
		if _, err := n.r.Discard(skip); err != nil {
			return cols, 0, err
		}
	}
	ncols, err := binary.ReadUvarint(n.r)
	if err != nil {
		return cols, 0, err
	}
	nrows, err := binary.ReadUvarint(n.r)
	if err != nil {
		return cols, 0, err
	}
	if ncols > 1<<12 || nrows > maxBlockRows {
		return cols, 0, fmt.Errorf("block of %d columns and %d rows", ncols, nrows)
	}
	if int(ncols) != len(cols) {
		cols = make([]nativeColumn, ncols)
	}
	rows := int(nrows)
	for i := range cols {
		c := &cols[i]
		if c.name, err = n.str(); err != nil {
			return cols, 0, err
		}
		if c.typ, err = n.str(); err != nil {
			return cols, 0, err
		}
		c.text = c.typ == "String"
		if rows == 0 {
			continue
		}
		switch c.typ {
		case "String":
			err = n.strings(c, rows)
		case "Int64", "UInt64":
			err = n.int64s(c, rows)
		default:
			err = fmt.Errorf("column %s: type %s is not read by scans", c.name, c.typ)
		}
		if err != nil {
			return cols, 0, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return cols, rows, nil
}

// strings reads rows String cells: each is a length (uvarint) and bytes.
// They are parsed straight out of the read buffer, as many as it holds at
// a time; a cell that the buffer does not hold whole is read on its own.
func (n *nativeConn) strings(c *nativeColumn, rows int) error {
	c.raw, c.ends = c.raw[:0], c.ends[:0]
	for len(c.ends) < rows {
		if n.r.Buffered() == 0 {
			if _, err := n.r.Peek(1); err != nil {
				return err
			}
		}
		buf, _ := n.r.Peek(n.r.Buffered())
		used := 0
		for len(c.ends) < rows {
			l, k := binary.Uvarint(buf[used:])
			if k <= 0 || uint64(len(buf)-used-k) < l {
				break
			}
			c.raw = append(c.raw, buf[used+k:used+k+int(l)]...)
			c.ends = append(c.ends, uint32(len(c.raw)))
			used += k + int(l)
		}
		n.r.Discard(used)
		if used > 0 || len(c.ends) == rows {
			continue
		}
		// The next cell is longer than what is buffered: it is read as it
		// arrives.
		l, err := binary.ReadUvarint(n.r)
		if err != nil {
			return err
		}
		if l > maxStringLen {
			return fmt.Errorf("string of %d bytes", l)
		}
		for left := int(l); left > 0; {
			buf, err := n.r.Peek(min(left, max(n.r.Buffered(), 1)))
			if err != nil {
				return err
			}
			c.raw = append(c.raw, buf...)
			n.r.Discard(len(buf))
			left -= len(buf)
		}
		c.ends = append(c.ends, uint32(len(c.raw)))
	}
	if len(c.raw) > math.MaxUint32 {
		return fmt.Errorf("%d bytes in one block", len(c.raw))
	}
	c.str = string(c.raw)
	return nil
}

// int64s reads rows little-endian 64-bit integers.
func (n *nativeConn) int64s(c *nativeColumn, rows int) error {
	c.ints = c.ints[:0]
	for len(c.ints) < rows {
		want := (rows - len(c.ints)) * 8
		buf, err := n.r.Peek(min(want, max(n.r.Buffered(), 8)) &^ 7)
		if err != nil {
			return err
		}
		for i := 0; i < len(buf); i += 8 {
			c.ints = append(c.ints, int64(binary.LittleEndian.Uint64(buf[i:])))
		}
		n.r.Discard(len(buf))
	}
	return nil
}

// nativeRows are a query's rows, block by block, as eventsql.Stream reads
// them.
type nativeRows struct {
	ctx       context.Context
	conn      *nativeConn
	stop      func() bool
	cols      []nativeColumn
	row, rows int
	done      bool
	err       error
}

// queryNative sends query on a connection of its own. Cancelling ctx
// breaks the connection off; Close ends it.
func queryNative(ctx context.Context, cfg nativeConfig, query string) (*nativeRows, error) {
	conn, err := dialNative(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := conn.send(query, cfg.hostname); err != nil {
		conn.c.Close()
		return nil, err
	}
	r := &nativeRows{ctx: ctx, conn: conn}
	r.stop = context.AfterFunc(ctx, func() { conn.c.SetDeadline(time.Unix(1, 0)) })
	return r, nil
}

// Next moves to the next row, reading the next data block when the
// current one is done.
func (r *nativeRows) Next() bool {
	if r.row+1 < r.rows {
		r.row++
		return true
	}
	r.rows = 0
	var scratch []nativeColumn
	for !r.done && r.err == nil {
		packet, err := binary.ReadUvarint(r.conn.r)
		if err != nil {
			r.fail(err)
			break
		}
		switch packet {
		case serverData:
			var rows int
			if r.cols, rows, err = r.conn.block(r.cols); err != nil {
				r.fail(err)
			} else if rows > 0 {
				r.row, r.rows = 0, rows
				return true
			}
		case serverTotals, serverExtremes:
			if scratch, _, err = r.conn.block(scratch); err != nil {
				r.fail(err)
			}
		case serverProgress: // rows, bytes, total rows
			r.fail(r.conn.skipUvarints(3))
		case serverProfileInfo: // rows, blocks, bytes, applied limit, rows before limit, calculated
			r.fail(errors.Join(r.conn.skipUvarints(3), r.conn.skipBytes(1), r.conn.skipUvarints(1), r.conn.skipBytes(1)))
		case serverException:
			r.fail(r.conn.exception())
		case serverEndOfStream:
			r.done = true
		default:
			r.fail(fmt.Errorf("unexpected packet %d", packet))
		}
	}
	return false
}

// fail records err (nil: none); after a cancel, the context's error.
func (r *nativeRows) fail(err error) {
	if err == nil || r.err != nil {
		return
	}
	if cerr := r.ctx.Err(); cerr != nil {
		err = cerr
	}
	r.err = err
}

func (n *nativeConn) skipUvarints(k int) error {
	for range k {
		if _, err := binary.ReadUvarint(n.r); err != nil {
			return err
		}
	}
	return nil
}

func (n *nativeConn) skipBytes(k int) error {
	_, err := n.r.Discard(k)
	return err
}

// Scan copies the current row's cells into dest: a String cell into a
// *string or an eventsql.StringDest, an integer into a *int64 or an
// eventsql.IntDest.
func (r *nativeRows) Scan(dest ...any) error {
	if len(dest) != len(r.cols) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(r.cols))
	}
	return r.scan(dest)
}

// scan is Scan of the row's first len(dest) cells.
func (r *nativeRows) scan(dest []any) error {
	for i, d := range dest {
		c := &r.cols[i]
		if c.text {
			s := c.cell(r.row)
			switch d := d.(type) {
			case *string:
				*d = s
			case eventsql.StringDest:
				d.SetString(s)
			default:
				return fmt.Errorf("scan: column %s: String into %T", c.name, d)
			}
			continue
		}
		v := c.ints[r.row]
		switch d := d.(type) {
		case *int64:
			*d = v
		case eventsql.IntDest:
			d.SetInt64(v)
		default:
			return fmt.Errorf("scan: column %s: %s into %T", c.name, c.typ, d)
		}
	}
	return nil
}

func (r *nativeRows) Err() error { return r.err }

// Close ends the query: a connection that has not read to the end of the
// stream is closed rather than drained.
func (r *nativeRows) Close() error {
	r.stop()
	r.done = true
	return r.conn.c.Close()
}

// bind writes args into query in place of its ? placeholders: int64 as
// numbers, strings as quoted literals. The scans send no settings or
// parameters, which protocol 54405 cannot carry, so their few arguments
// (workspace, kind, times, filter values) go in the text, quoted as
// clickhouse-go quotes them.
func bind(query string, args []any) (string, error) {
	var b strings.Builder
	next := 0
	quote := byte(0)
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case quote != 0:
			if ch == '\\' && i+1 < len(query) {
				b.WriteByte(ch)
				i++
				ch = query[i]
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '?':
			if next == len(args) {
				return "", fmt.Errorf("bind: more placeholders than %d arguments", len(args))
			}
			switch v := args[next].(type) {
			case int64:
				b.WriteString(strconv.FormatInt(v, 10))
			case string:
				b.WriteString(quoteString(v))
			default:
				return "", fmt.Errorf("bind: argument %d is a %T", next+1, v)
			}
			next++
			continue
		}
		b.WriteByte(ch)
	}
	if next != len(args) {
		return "", fmt.Errorf("bind: %d arguments for %d placeholders", len(args), next)
	}
	return b.String(), nil
}

var stringEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// quoteString is s as a ClickHouse string literal.
func quoteString(s string) string { return "'" + stringEscaper.Replace(s) + "'" }
