package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// PolicySource reads a workspace's classification and redaction rules
// (the metadata store).
type PolicySource interface {
	Classification(ctx context.Context, workspaceID int64) ([]usage.Rule, bool, error)
	Redaction(ctx context.Context, workspaceID int64) (usage.Redaction, bool, error)
}

// Policies apply a workspace's rules to its events as they are captured,
// before any store sees them: its classification rules to the api_request
// events (decoding classifies by usage.DefaultRules; a workspace that set
// rules of its own has its events classified again), then its redaction
// rules to every event. Every capture path goes through them: ingest,
// OTLP, the gateway, self-logging and `usagelog ingest`. Rules are read at
// most every TTL per workspace, so that a change made on another replica
// applies within it.
type Policies struct {
	Rules PolicySource
	// TTL is how long a workspace's rules are kept (DefaultRulesTTL).
	TTL time.Duration
	Now func() time.Time

	mu    sync.Mutex
	cache map[int64]policy
}

// DefaultRulesTTL is how long Policies keep a workspace's rules.
const DefaultRulesTTL = 10 * time.Second

type policy struct {
	rules  usage.Classifier // nil: the defaults
	redact *usage.Redactor  // nil: nothing to redact
	read   time.Time
}

// Apply classifies the api_request events of events by the workspace's
// rules, then redacts every event by its redaction rules. A nil Policies
// does nothing.
func (c *Policies) Apply(ctx context.Context, workspaceID int64, events []usage.Event) error {
	if c == nil {
		return nil
	}
	p, err := c.policy(ctx, workspaceID)
	if err != nil {
		return err
	}
	if p.rules != nil {
		for i := range events {
			if e := &events[i]; e.Kind == usage.KindAPIRequest {
				e.ClientClass, e.UsageType = p.rules.Classify(e.URL, e.UserAgent)
			}
		}
	}
	if p.redact != nil {
		for i := range events {
			p.redact.Event(&events[i])
		}
	}
	return nil
}

// Forget drops a workspace's cached rules: this process changed them.
func (c *Policies) Forget(workspaceID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.cache, workspaceID)
	c.mu.Unlock()
}

func (c *Policies) policy(ctx context.Context, workspaceID int64) (policy, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultRulesTTL
	}
	c.mu.Lock()
	got, ok := c.cache[workspaceID]
	c.mu.Unlock()
	if ok && now.Sub(got.read) < ttl {
		return got, nil
	}
	rules, set, err := c.Rules.Classification(ctx, workspaceID)
	if err != nil {
		return policy{}, fmt.Errorf("classification rules: %w", err)
	}
	got = policy{read: now}
	if set {
		got.rules = usage.Classifier(rules)
		if got.rules == nil {
			got.rules = usage.Classifier{} // an empty list: every call is Other
		}
	}
	red, _, err := c.Rules.Redaction(ctx, workspaceID)
	if err != nil {
		return policy{}, fmt.Errorf("redaction rules: %w", err)
	}
	if got.redact, err = red.Redactor(); err != nil {
		return policy{}, fmt.Errorf("redaction rules of workspace %d: %w", workspaceID, err)
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[int64]policy{}
	}
	c.cache[workspaceID] = got
	c.mu.Unlock()
	return got, nil
}
