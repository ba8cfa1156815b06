package usage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErasureField is what names the person an erasure removes.
type ErasureField string

// The fields an erasure matches, and the events each finds: API calls by
// member id or address, activity by user id, activity and user
// observations by email (ASCII letters in either case).
const (
	EraseMemberID  ErasureField = "member_id"
	EraseIP        ErasureField = "ip"
	EraseUserID    ErasureField = "user_id"
	EraseUserEmail ErasureField = "user_email"
)

// ErasureFields lists every field, in the order forms show them.
var ErasureFields = []ErasureField{EraseMemberID, EraseUserEmail, EraseUserID, EraseIP}

// Kinds are the kinds of events the field names a person in.
func (f ErasureField) Kinds() []Kind {
	switch f {
	case EraseMemberID, EraseIP:
		return []Kind{KindAPIRequest}
	case EraseUserID:
		return []Kind{KindActivity}
	case EraseUserEmail:
		return []Kind{KindActivity, KindUserSeen}
	}
	return nil
}

// ErasureMatch is the person an erasure removes: every event of the
// workspace whose Field is Value.
type ErasureMatch struct {
	Field ErasureField
	Value string
}

// MaxErasureValue bounds a match's value (the longest stored field is
// shorter).
const MaxErasureValue = 1024

// Check validates m and returns it with its value as the stores compare
// it (an email in lower case).
func (m ErasureMatch) Check() (ErasureMatch, error) {
	if m.Field.Kinds() == nil {
		return m, Errorf(EInvalid, "unknown erasure field %q (want one of member_id, user_email, user_id, ip)", m.Field)
	}
	if strings.TrimSpace(m.Value) == "" {
		return m, Errorf(EInvalid, "%s: a value is required", m.Field)
	}
	if len(m.Value) > MaxErasureValue || !utf8.ValidString(m.Value) {
		return m, Errorf(EInvalid, "%s: at most %d bytes of UTF-8", m.Field, MaxErasureValue)
	}
	if m.Field == EraseUserEmail {
		m.Value = LowerASCII(m.Value)
	}
	return m, nil
}

// LowerASCII lowers ASCII letters only, as SQLite's and ClickHouse's
// lower() do, so that every store compares emails alike.
func LowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ErasureHash is the keyed hash by which the audit log and a receipt name
// an erased value without holding it: the same value of the same field
// hashes alike in a workspace (so that a request can be matched to its
// receipt), differently in another, and cannot be read back without the
// server secret.
func ErasureHash(secret []byte, workspaceID int64, m ErasureMatch) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("usagelog erasures/" + strconv.FormatInt(workspaceID, 10) + "/" + string(m.Field) + "/"))
	h.Write([]byte(m.Value))
	return "hmac-sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ErasureStatus is where an erasure is in its life.
type ErasureStatus string

// Erasure statuses; done and failed are final.
const (
	ErasureQueued  ErasureStatus = "queued"
	ErasureRunning ErasureStatus = "running"
	ErasureDone    ErasureStatus = "done"
	ErasureFailed  ErasureStatus = "failed"
)

// Erasure is a request to erase a person, its progress and its receipt.
type Erasure struct {
	ID          string
	WorkspaceID int64
	Field       ErasureField
	// Value is the matched value while the erasure waits or runs; it is
	// cleared when it ends, after which only Hash names it.
	Value       string
	Hash        string
	Reason      string
	DeleteFiles bool
	Status      ErasureStatus
	Creator     Actor
	CreatedAt   time.Time
	StartedAt   time.Time
	// UpdatedAt is the running erasure's heartbeat: one that stops
	// beating (its process ended) is taken up again.
	UpdatedAt  time.Time
	FinishedAt time.Time
	// Done of Total are its steps, in the event store's units.
	Done, Total int64
	Attempt     int64
	// Removed is how many events of each kind it deleted.
	Removed map[Kind]int64
	// Files are the export files written before it that may hold the
	// person.
	Files []ErasedFile
	Error string
}

// Match is what the erasure removes.
func (e *Erasure) Match() ErasureMatch { return ErasureMatch{Field: e.Field, Value: e.Value} }

// ErasedFile is an export file an erasure found: written after the
// person's first event, by a report over the kinds of events it removed.
type ErasedFile struct {
	JobID   string    `json:"job_id"`
	Report  string    `json:"report"`
	Path    string    `json:"path"`
	Written time.Time `json:"written"`
	// Deleted: the erasure removed it (delete_files), and its links
	// answer 404 from then on.
	Deleted bool `json:"deleted"`
}

// EraseResult is what an event store's erasure removed: how many events
// of each kind, and the span of their times.
type EraseResult struct {
	Removed     map[Kind]int64
	First, Last time.Time
}

// Erasure audit actions.
const (
	AuditErasureCreate = "erasure.create"
	AuditErasureDone   = "erasure.done"
)
