package store

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// seedMessages writes n messages of endpoint epID straight to the store, message i
// created at base + i/2 seconds (two at each time, on two streams, so that times
// tie), with status statusOf(i) and one attempt of latency i+1 ms. It returns their
// ids, oldest first.
func seedMessages(t *testing.T, db *DB, epID string, n int, base time.Time, statusOf func(i int) references.MessageStatus) []string {
	t.Helper()
	ids := make([]string, n)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for i := range n {
			at := base.Add(time.Duration(i/2) * time.Second)
			m := references.Message{
				EndpointID: epID, AccountID: "a", ID: fmt.Sprintf("upd_%06d", i),
				ReferenceID: fmt.Sprintf("ref_%d", i%2), Sequence: uint64(i/2 + 1),
				EventType: string(references.UpdateShipment), CreatedAt: at, Status: statusOf(i),
				Attempts: []references.DeliveryAttempt{{Destination: epID, At: at, LatencyMS: int64(i + 1), Outcome: references.OutcomeFailed}},
			}
			if err := putMessage(tx, &m, true); err != nil {
				return err
			}
			ids[i] = m.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func pending(int) references.MessageStatus { return references.MessagePending }

// listAllMessages follows the cursors of ListMessages to the end, returning the ids
// and how many pages it took.
func listAllMessages(t *testing.T, db *DB, epID string, q references.MessageQuery) (ids []string, pages int) {
	t.Helper()
	for {
		page, err := db.ListMessages(context.Background(), "a", epID, q)
		if err != nil {
			t.Fatalf("ListMessages(%+v): %v", q, err)
		}
		pages++
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
		}
		if page.NextCursor == "" {
			return ids, pages
		}
		q.Cursor = page.NextCursor
	}
}

// newestFirst returns ids in the order ListMessages gives messages seeded by
// seedMessages: newest time first, and within a time the later stream first.
func newestFirst(ids []string) []string {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

func TestListMessages_PagesNewestFirstThroughTiedTimes(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	ids := seedMessages(t, db, "ep_1", 7, clk.Now(), pending)
	mustCreateEndpoint(t, db, "ep_10") // another endpoint's messages, never listed
	seedMessages(t, db, "ep_10", 3, clk.Now(), pending)
	got, pages := listAllMessages(t, db, "ep_1", references.MessageQuery{Limit: 2})
	if want := newestFirst(ids); !slices.Equal(got, want) || pages != 4 {
		t.Errorf("pages of 2 gave %q in %d pages, want %q in 4", got, pages, want)
	}
}

func TestListMessages_TimeBoundsAreExclusive(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	base := clk.Now()
	ids := seedMessages(t, db, "ep_1", 8, base, pending) // two per second, 0..3 s
	after, before := base.Add(time.Second), base.Add(3*time.Second)
	got, _ := listAllMessages(t, db, "ep_1", references.MessageQuery{After: &after, Before: &before, Limit: 1})
	if want := newestFirst(ids[4:6]); !slices.Equal(got, want) {
		t.Errorf("after 1 s and before 3 s: %q, want those created at 2 s, %q", got, want)
	}
}

// A status filter reads each message it passes over: a page stops after its budget of
// keys with a cursor, even a short or empty page, and the cursors find every match.
func TestListMessages_StatusScanIsBoundedAndResumes(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	failedAt := map[int]bool{0: true, 1: true, 17: true, 30: true, 31: true, 32: true}
	ids := seedMessages(t, db, "ep_1", 50, clk.Now(), func(i int) references.MessageStatus {
		if failedAt[i] {
			return references.MessageFailed
		}
		return references.MessageSucceeded
	})
	q := references.MessageQuery{Status: references.MessageFailed}
	var got []string
	var sizes []int
	for {
		var page references.MessagePage
		err := db.bolt.View(func(tx *bolt.Tx) error {
			var err error
			page, err = listMessages(tx, "ep_1", q, 2, 10)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Messages))
		for _, m := range page.Messages {
			got = append(got, m.ID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	want := []string{ids[32], ids[31], ids[30], ids[17], ids[1], ids[0]}
	if !slices.Equal(got, want) {
		t.Errorf("failed messages through the cursors: %q, want %q", got, want)
	}
	// Ten keys a page: 49..40 hold none; 39..32 give a full page (32, 31), which stops
	// at the third match (30); 30..21 give 30; 20..11 give 17; 10..1 give 1; 0 is the
	// last page.
	if wantSizes := []int{0, 2, 1, 1, 1, 1}; !slices.Equal(sizes, wantSizes) {
		t.Errorf("page sizes %v, want %v", sizes, wantSizes)
	}
}

// Through the API the budget is max(minMessageScan, 20 × limit) keys.
func TestListMessages_ABudgetOfTenThousandKeys(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	n := minMessageScan + 10
	ids := seedMessages(t, db, "ep_1", n, clk.Now(), func(i int) references.MessageStatus {
		if i == 0 {
			return references.MessageFailed
		}
		return references.MessageSucceeded
	})
	q := references.MessageQuery{Status: references.MessageFailed, Limit: 10}
	first, err := db.ListMessages(context.Background(), "a", "ep_1", q)
	if err != nil || len(first.Messages) != 0 || first.NextCursor == "" {
		t.Fatalf("first page = %d messages, cursor %q, %v; want none and a cursor", len(first.Messages), first.NextCursor, err)
	}
	q.Cursor = first.NextCursor
	second, err := db.ListMessages(context.Background(), "a", "ep_1", q)
	if err != nil || len(second.Messages) != 1 || second.Messages[0].ID != ids[0] || second.NextCursor != "" {
		t.Fatalf("second page = %d messages, cursor %q, %v; want the oldest and no cursor", len(second.Messages), second.NextCursor, err)
	}
}

func TestListMessages_RefusesACursorItDidNotMake(t *testing.T) {
	db, _ := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	for _, cursor := range []string{"%%", "AAAA", "QUFBQUFBQUFBQUFBQUFBQUFBQUE"} {
		_, err := db.ListMessages(context.Background(), "a", "ep_1", references.MessageQuery{Cursor: cursor})
		if references.ErrorCode(err) != references.CodeInvalid {
			t.Errorf("cursor %q: %v, want invalid", cursor, err)
		}
	}
}

func TestGetMessage_BodyOfAnEventAndOfAnUpdateRetentionDeleted(t *testing.T) {
	db, clk := mustOpen(t)
	ctx := context.Background()
	mustCreateEndpoint(t, db, "ep_1")
	e := references.AccountEvent{ID: "evt_1", AccountID: "a", Type: references.EventEndpointDisabled, CreatedAt: clk.Now(), EndpointID: "ep_2"}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := appendAccountEvent(tx, &e); err != nil {
			return err
		}
		for _, m := range []references.Message{
			{EndpointID: "ep_1", AccountID: "a", ID: e.ID, Sequence: e.Sequence, EventType: e.Type, CreatedAt: e.CreatedAt},
			{EndpointID: "ep_1", AccountID: "a", ID: "upd_gone", ReferenceID: "ref_1", Sequence: 4, CreatedAt: e.CreatedAt},
		} {
			if err := putMessage(tx, &m, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m, body, err := db.GetMessage(ctx, "a", "ep_1", e.ID)
	if err != nil || m.ID != e.ID || body.Event == nil || body.Event.ID != e.ID || body.Update != nil {
		t.Errorf("GetMessage of an event = %+v, %+v, %v", m, body, err)
	}
	m, body, err = db.GetMessage(ctx, "a", "ep_1", "upd_gone")
	if err != nil || m.ID != "upd_gone" || body.Update != nil || body.Event != nil {
		t.Errorf("GetMessage of an update retention deleted = %+v, %+v, %v; want the message without body", m, body, err)
	}
}

func TestRecoverMessages_QueuesFailedOnesFromSinceOn(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	base := clk.Now()
	ids := seedMessages(t, db, "ep_1", 8, base, func(i int) references.MessageStatus {
		if i%3 == 0 {
			return references.MessageFailed // 0, 3, 6
		}
		return references.MessageSucceeded
	})
	at := base.Add(time.Hour)
	n, err := db.RecoverMessages(context.Background(), "a", "ep_1", base.Add(time.Second), at) // from message 2 on
	if err != nil || n != 2 {
		t.Fatalf("RecoverMessages = %d, %v; want 2 (messages 3 and 6)", n, err)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEndpointResend)
		for i, id := range ids {
			v := b.Get(join(str("ep_1"), []byte(id)))
			if queued := i == 3 || i == 6; queued != (v != nil) {
				t.Errorf("message %d queued %t, want %t", i, v != nil, queued)
			}
			if v != nil && !keyTime(v).Equal(at) {
				t.Errorf("message %d queued at %v, want %v", i, keyTime(v), at)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEndpointStats_NearestRankLatenciesAndBound(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	base := clk.Now()
	seedMessages(t, db, "ep_1", 100, base, func(i int) references.MessageStatus {
		switch {
		case i < 10:
			return references.MessageFailed
		case i < 40:
			return references.MessageSucceeded
		}
		return references.MessageSending
	})
	expired := references.Message{
		EndpointID: "ep_1", AccountID: "a", ID: "upd_expired", ReferenceID: "ref_9", Sequence: 1, CreatedAt: base,
		Status: references.MessageFailed, Attempts: []references.DeliveryAttempt{{At: base, LatencyMS: 1e6, Outcome: references.OutcomeExpired}},
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return putMessage(tx, &expired, true) }); err != nil {
		t.Fatal(err)
	}
	st, err := db.EndpointStats(context.Background(), "a", "ep_1", base)
	if err != nil {
		t.Fatal(err)
	}
	want := map[references.MessageStatus]int{references.MessageFailed: 11, references.MessageSucceeded: 30, references.MessageSending: 60, references.MessagePending: 0}
	if !maps.Equal(st.Counts, want) || st.Attempts != 100 || st.LatencyP50MS != 50 || st.LatencyP99MS != 99 ||
		math.Abs(st.SuccessRate-30.0/41) > 1e-9 || !st.Since.Equal(base) {
		t.Errorf("stats = %+v; want counts %v, 100 attempts (the expired one sent nothing), p50 50, p99 99, rate 30/41", st, want)
	}
	// Reading at most 10 messages: the newest ten, from 45 s on, with Since saying so.
	err = db.bolt.View(func(tx *bolt.Tx) error {
		st, err := endpointStats(tx, "ep_1", base, 10)
		if err != nil {
			return err
		}
		if st.Counts[references.MessageSending] != 10 || st.Attempts != 10 || !st.Since.Equal(base.Add(45*time.Second)) || st.LatencyP99MS != 100 {
			t.Errorf("stats of at most 10 = %+v; want the newest 10 messages, since 45 s", st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestListAccountEvents_InSequenceOrderPerAccount(t *testing.T) {
	db, clk := mustOpen(t)
	ctx := context.Background()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, acct := range []string{"a", "ab", "a", "ab", "a"} {
			e := references.AccountEvent{ID: references.NewID("evt_"), AccountID: acct, Type: references.EventEndpointDisabled, CreatedAt: clk.Now()}
			if err := appendAccountEvent(tx, &e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seqOf := func(events []references.AccountEvent) []uint64 {
		var out []uint64
		for _, e := range events {
			if e.AccountID != "a" {
				t.Errorf("account a's feed holds an event of %s", e.AccountID)
			}
			out = append(out, e.Sequence)
		}
		return out
	}
	for _, c := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{1, 2, 3}},
		{1, 1, []uint64{2}},
		{3, 10, nil},
		{math.MaxUint64, 10, nil},
	} {
		got, err := db.ListAccountEvents(ctx, "a", c.after, c.limit)
		if err != nil || !slices.Equal(seqOf(got), c.want) {
			t.Errorf("after %d, limit %d: %v, %v; want %v", c.after, c.limit, seqOf(got), err, c.want)
		}
	}
}
