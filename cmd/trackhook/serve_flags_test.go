package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseServeFlags_RetentionAndQuota(t *testing.T) {
	e, _, _ := newTestEnv(nil)
	c, err := parseServeFlags(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.retention != 720*time.Hour || c.deliveryLogRetention != 720*time.Hour || c.unsubscribedRetention != 720*time.Hour || c.maxActivePerAccount != 0 {
		t.Errorf("defaults: retention %s, delivery log %s, unsubscribed %s, quota %d; want 720h, 720h, 720h, 0",
			c.retention, c.deliveryLogRetention, c.unsubscribedRetention, c.maxActivePerAccount)
	}
	e, _, _ = newTestEnv(map[string]string{"TRACKHOOK_UNSUBSCRIBED_RETENTION": "48h", "TRACKHOOK_MAX_ACTIVE_REFERENCES_PER_ACCOUNT": "100"})
	c, err = parseServeFlags([]string{"--delivery-log-retention", "168h"}, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.deliveryLogRetention != 168*time.Hour || c.unsubscribedRetention != 48*time.Hour || c.maxActivePerAccount != 100 {
		t.Errorf("set: delivery log %s, unsubscribed %s, quota %d; want 168h, 48h, 100", c.deliveryLogRetention, c.unsubscribedRetention, c.maxActivePerAccount)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--delivery-log-retention", "0s"}, "--delivery-log-retention"},
		{[]string{"--unsubscribed-retention", "-1h"}, "--unsubscribed-retention"},
		{[]string{"--max-active-references-per-account", "-1"}, "--max-active-references-per-account"},
	} {
		e, _, _ := newTestEnv(nil)
		if _, err := parseServeFlags(tc.args, e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseServeFlags(%q) = %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
