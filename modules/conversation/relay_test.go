package conversation

import (
	"fmt"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
)

func line(i, size int) sandbox.Line {
	data := fmt.Appendf(nil, "%06d", i)
	for len(data) < size {
		data = append(data, 'x')
	}
	return sandbox.Line{Data: data}
}

// The lines that arrive while the relay is busy become one batch, in order,
// within the batch bounds, and every line comes out once.
func TestLineQueueBatchesWhatArrivedInOrder(t *testing.T) {
	src := make(chan sandbox.Line)
	q := readAhead(src, 1<<20)
	go func() {
		for i := range 2500 {
			src <- line(i, 100)
		}
		close(src)
	}()
	time.Sleep(100 * time.Millisecond) // the relay is busy: everything piles up
	var sizes []int
	next := 0
	for {
		batch, ok := q.take(1000, 1<<20)
		if !ok {
			break
		}
		sizes = append(sizes, len(batch))
		for _, l := range batch {
			if want := fmt.Sprintf("%06d", next); string(l.Data[:6]) != want {
				t.Fatalf("line %q, want %s", l.Data[:6], want)
			}
			next++
		}
	}
	if next != 2500 {
		t.Fatalf("%d lines came out, want 2500", next)
	}
	if len(sizes) < 3 || sizes[0] != 1000 || sizes[1] != 1000 {
		t.Errorf("batches %v, want full batches of 1000 first", sizes)
	}
	if _, ok := q.take(10, 10); ok {
		t.Error("take after the end returned lines")
	}
}

// The queue holds at most its byte bound: the reader waits (and with it the
// sandbox's output) until the relay takes lines; a line longer than the
// bound goes alone.
func TestLineQueueHoldsAtMostItsBound(t *testing.T) {
	src := make(chan sandbox.Line)
	q := readAhead(src, 1000)
	for i := range 11 {
		src <- line(i, 100) // 1000 bytes queued, and the reader holds the 11th
	}
	select {
	case src <- line(11, 100):
		t.Fatal("the queue took a line past its bound")
	case <-time.After(50 * time.Millisecond):
	}
	batch, ok := q.take(3, 1<<20)
	if !ok || len(batch) != 3 {
		t.Fatalf("take: %d lines, %v", len(batch), ok)
	}
	src <- line(11, 100) // room again
	go func() {
		src <- line(12, 5000) // longer than the bound: waits for an empty queue
		close(src)
	}()
	if batch, _ := q.take(100, 250); len(batch) != 2 {
		t.Fatalf("take within 250 bytes: %d lines, want 2", len(batch))
	}
	var rest []queued
	for {
		batch, ok := q.take(100, 1<<20)
		if !ok {
			break
		}
		rest = append(rest, batch...)
	}
	if len(rest) != 8 || len(rest[7].Data) != 5000 {
		t.Fatalf("%d lines left, want 8 ending with the long one", len(rest))
	}
}

// A runner event raised while lines are relayed joins the queue in arrival
// order and counts nothing against the byte bound; one raised after the last
// batch waits in pending for the turn's end.
func TestNoticesJoinTheLinesInOrder(t *testing.T) {
	src := make(chan sandbox.Line, 4)
	q := readAhead(src, 1<<20)
	var n notices
	n.raise([]byte(`{"early":1}`)) // before the relay: pending, then first
	n.attach(q)
	src <- line(0, 10)
	time.Sleep(20 * time.Millisecond)
	n.raise([]byte(`{"mid":1}`))
	src <- line(1, 10)
	close(src)
	time.Sleep(20 * time.Millisecond)
	var got []string
	for {
		batch, ok := q.take(100, 1<<20)
		if !ok {
			break
		}
		for _, l := range batch {
			if l.notice {
				got = append(got, string(l.Data))
			} else {
				got = append(got, string(l.Data[:6]))
			}
		}
	}
	n.raise([]byte(`{"late":1}`))
	n.detach(q)
	n.raise([]byte(`{"after":1}`))
	want := []string{`{"early":1}`, "000000", `{"mid":1}`, "000001"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("relayed %v, want %v", got, want)
	}
	if rest := n.take(); len(rest) != 2 || string(rest[0]) != `{"late":1}` || string(rest[1]) != `{"after":1}` {
		t.Fatalf("pending %q, want late then after", rest)
	}
}
