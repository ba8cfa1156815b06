package webhook_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/webhook"
)

func TestPolicyCheck(t *testing.T) {
	ctx := context.Background()
	strict := webhook.Policy{}
	loopbackOK := webhook.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for _, c := range []struct {
		policy webhook.Policy
		url    string
		want   string // "" for allowed
	}{
		{strict, "http://127.0.0.1:9/hook", "loopback"},
		{strict, "http://localhost/hook", "loopback"},
		{strict, "http://[::1]/", "loopback"},
		{strict, "http://[::ffff:127.0.0.1]/", "loopback"},
		{strict, "http://10.1.2.3/", "private"},
		{strict, "http://192.168.0.1/", "private"},
		{strict, "http://100.64.0.1/", "private"},
		{strict, "http://169.254.169.254/latest/meta-data", "link-local"},
		{strict, "http://239.1.2.3/", "multicast"},
		{strict, "http://0.0.0.0/", "unspecified"},
		{strict, "ftp://example.com/", "not an http or https URL"},
		{strict, "http://93.184.216.34/hook", ""},
		{strict, "https://[2606:2800:220:1::]/", ""},
		{loopbackOK, "http://127.0.0.1:9/hook", ""},
		{loopbackOK, "http://10.0.0.1/", "private"},
	} {
		err := c.policy.Check(ctx, c.url)
		if (c.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.url))) {
			t.Errorf("Check(%q) = %v, want %q and the URL", c.url, err, c.want)
		}
	}
	if _, err := webhook.ParseAllow([]string{"10.0.0.0/8", "192.168.1.5", "nonsense"}); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("ParseAllow took nonsense: %v", err)
	}
}

// TestWebhookRefusedAtDelivery: a schedule whose webhook leads to
// loopback (as when its DNS changed after creation) gets nothing sent;
// the job records the refusal. A listener on loopback counts what
// reaches it.
