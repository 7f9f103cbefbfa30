package crashpoint

import (
	"os"
	"strconv"
	"strings"
	stdsync "sync"
	"syscall"
)

// EnvVar names the points to crash at.
const EnvVar = "CLAUDETTE_TEST_CRASHPOINT"

// Names of the crash points, in the order a message meets them.
const (
	// sync: the batch is journaled (ids, pending messages, position); nothing dispatched yet.
	IntakeCommitted = "intake-committed"
	// handler: a request was answered or handed over durably; its journal entry is not settled yet.
	HandlerAnswered = "handler-answered"
	// conversation: the turn record is written; the queued state is not sent yet.
	TurnRecorded = "turn-recorded"
	// conversation: a state's seq is reserved in the record; the state is not sent yet.
	StateReserved = "state-reserved"
	// conversation: the prompt file is durable; the sandbox is not created yet.
	PromptWritten = "prompt-written"
	// sandbox: the container is started; the record does not say running yet.
	SandboxStarted = "sandbox-started"
	// conversation: a batch of lines is reserved in the record; not sent yet.
	LinesReserved = "lines-reserved"
	// conversation: the sandbox ended (container kept); the answer is not recorded yet.
	SandboxEnded = "sandbox-ended"
	// conversation: the answer is recorded; nothing of it sent yet.
	AnswerRecorded = "answer-recorded"
	// conversation: the answer is sent (durable in the outbox); the container is not removed yet.
	AnswerSent = "answer-sent"
	// conversation: the container is removed; the record is not deleted yet.
	ContainerRemoved = "container-removed"
	// conversation: a cancel is recorded; the container is not signalled yet.
	CancelRecorded = "cancel-recorded"
	// reporter: a batch is delivered (2xx); the cursor is not written yet.
	BatchDelivered = "batch-delivered"
)

var (
	once    stdsync.Once
	mu      stdsync.Mutex
	targets map[string]int // name -> hits left before the crash
)

func load() {
	v := os.Getenv(EnvVar)
	if v == "" {
		return
	}
	targets = map[string]int{}
	for _, f := range strings.Split(v, ",") {
		name, n, found := strings.Cut(strings.TrimSpace(f), "@")
		count := 1
		if found {
			if c, err := strconv.Atoi(n); err == nil && c > 0 {
				count = c
			}
		}
		if name != "" {
			targets[name] = count
		}
	}
}

// Hit is a crash point: the process dies here (SIGKILL, no deferred code, no
// flush) when the environment names it.
func Hit(name string) {
	once.Do(load)
	if targets == nil {
		return
	}
	mu.Lock()
	left, ok := targets[name]
	if ok {
		left--
		targets[name] = left
	}
	mu.Unlock()
	if ok && left == 0 {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
