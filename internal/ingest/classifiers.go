package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// RuleSource reads a workspace's classification rules (the metadata
// store).
type RuleSource interface {
	Classification(ctx context.Context, workspaceID int64) ([]usage.Rule, bool, error)
}

// Classifiers classify the api_request events of a workspace by its rules
// as they are stored. Decoding classifies by usage.DefaultRules; a
// workspace that set rules of its own has its events classified again.
// Rules are read at most every TTL per workspace, so that a change made on
// another replica applies within it.
type Classifiers struct {
	Rules RuleSource
	// TTL is how long a workspace's rules are kept (DefaultRulesTTL).
	TTL time.Duration
	Now func() time.Time

	mu    sync.Mutex
	cache map[int64]cachedRules
}

// DefaultRulesTTL is how long Classifiers keep a workspace's rules.
const DefaultRulesTTL = 10 * time.Second

type cachedRules struct {
	rules usage.Classifier // nil: the defaults
	read  time.Time
}

// Apply classifies the api_request events of events by the workspace's
// rules.
func (c *Classifiers) Apply(ctx context.Context, workspaceID int64, events []usage.Event) error {
	if c == nil {
		return nil
	}
	rules, err := c.rules(ctx, workspaceID)
	if err != nil || rules == nil {
		return err
	}
	for i := range events {
		if e := &events[i]; e.Kind == usage.KindAPIRequest {
			e.ClientClass, e.UsageType = rules.Classify(e.URL, e.UserAgent)
		}
	}
	return nil
}

// Forget drops a workspace's cached rules: this process changed them.
func (c *Classifiers) Forget(workspaceID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.cache, workspaceID)
	c.mu.Unlock()
}

func (c *Classifiers) rules(ctx context.Context, workspaceID int64) (usage.Classifier, error) {
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
		return got.rules, nil
	}
	rules, set, err := c.Rules.Classification(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("classification rules: %w", err)
	}
	got = cachedRules{read: now}
	if set {
		got.rules = usage.Classifier(rules)
		if got.rules == nil {
			got.rules = usage.Classifier{} // an empty list: every call is Other
		}
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[int64]cachedRules{}
	}
	c.cache[workspaceID] = got
	c.mu.Unlock()
	return got.rules, nil
}
