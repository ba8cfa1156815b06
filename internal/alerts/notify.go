package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/webhook"
)

// SMTP is where email goes: serve --smtp smtp://user:pass@host:587
// --smtp-from ADDR.
type SMTP struct {
	Addr     string // host:port
	Username string
	Password string
	From     string
	// RootCAs verify the server's STARTTLS certificate; nil: the system's.
	RootCAs *x509.CertPool
}

// ParseSMTP reads --smtp's URL (smtp://[user[:pass]@]host[:port], port 587
// when not given) and --smtp-from.
func ParseSMTP(raw, from string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" {
		return nil, fmt.Errorf("--smtp: %q is not smtp://[user[:password]@]host[:port]", raw)
	}
	if from == "" {
		return nil, errors.New("--smtp-from: required with --smtp")
	}
	port := u.Port()
	if port == "" {
		port = "587"
	}
	s := &SMTP{Addr: net.JoinHostPort(u.Hostname(), port), From: from}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

// Delivery sends a rule's messages: to its webhook, signed as schedules'
// webhooks are, and to its email addresses.
type Delivery struct {
	// Client posts webhooks: webhook.Policy's, which connects only
	// where the policy lets webhooks go.
	Client *http.Client
	// SMTP sends email; nil: rules' email addresses are not written to.
	SMTP *SMTP
	// Retry is the wait before a webhook's second try, twice that before
	// the third; default 5 s.
	Retry time.Duration
	Now   func() time.Time
}

// Send delivers m to every target of e's rule; its error joins each
// target's that failed.
func (d *Delivery) Send(ctx context.Context, e *Entry, m *Message) error {
	var errs []error
	if e.Notify.Webhook != "" {
		if err := d.webhook(ctx, e, m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(e.Notify.Email) > 0 {
		if d.SMTP == nil {
			errs = append(errs, errors.New("email: the server has no --smtp"))
		} else if err := d.SMTP.Send(ctx, e.Notify.Email, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Delivery) webhook(ctx context.Context, e *Entry, m *Message) error {
	body, err := m.Body(e.Notify.Format)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	wait := d.Retry
	if wait == 0 {
		wait = 5 * time.Second
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	for try := 1; ; try++ {
		err = d.post(ctx, e, body, now())
		if err == nil || try == 3 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (d *Delivery) post(ctx context.Context, e *Entry, body []byte, at time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Notify.Webhook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "usagelog-alerts")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(e.Secret, at, body))
	resp, err := d.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s answered %s", e.Notify.Webhook, resp.Status)
	}
	return nil
}

// Send writes m to the addresses to, with STARTTLS when the server offers
// it, and authenticates when s has a user.
func (s *SMTP) Send(ctx context.Context, to []string, m *Message) error {
	dialer := net.Dialer{Timeout: 10 * time.Second}
	conn, err := dialer.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("email: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: s.RootCAs}); err != nil {
			return fmt.Errorf("email: starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("email: auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("email: from %s: %w", s.From, err)
	}
	for _, a := range to {
		if err := c.Rcpt(a); err != nil {
			return fmt.Errorf("email: to %s: %w", a, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if _, err := w.Write(s.message(to, m)); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	return c.Quit()
}

// message is the email of m: a plain text body, the subject encoded when
// it is not ASCII, no line breaks a rule's name could put in a header.
func (s *SMTP) message(to []string, m *Message) []byte {
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", s.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine.Replace(m.Subject())))
	fmt.Fprintf(&b, "Date: %s\r\n", m.M.At.UTC().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(m.Text(), "\n", "\r\n"))
	return b.Bytes()
}
