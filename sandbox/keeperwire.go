package sandbox

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// The keeper's control protocol, one request per connection on the keeper's
// Unix socket: the runner writes a 4-byte big-endian length and a JSON
// keeperRequest in one sendmsg (a run request carries the turn's three files
// as SCM_RIGHTS: the prompt to read as stdin, the output file and the status
// file), and reads one JSON keeperReply line. "run" is answered once the
// command started, "wait" once the turn ended (the output is complete in the
// output file then), "stop" at once, "ping" at once.

// Paths of the keeper inside a kept sandbox.
const (
	// KeeperDir is where a workspace's keeper directory is mounted
	// read-write: the keeper's control socket lives there.
	KeeperDir = "/run/claudette-keeper"
	// KeeperSocket is the keeper's control socket's name in KeeperDir.
	KeeperSocket = "keeper.sock"
)

// KeeperExitNotStarted is the exit code of a turn the keeper never started
// (the runner stopped between recording the turn and asking for it): the
// turn may run again. It equals the shim's setup failure (relay.ShimExitSetup).
const KeeperExitNotStarted = 125

const maxKeeperRequest = 4 << 20

// keeperOnceEnv in a keeper's environment ("1") makes it exit after its
// first turn: with sandbox.idle 0 a kept sandbox ends with its turn, as a
// sandbox of its own does. Never passed on to a turn.
const keeperOnceEnv = "CLAUDETTE_KEEPER_ONCE"

type keeperRequest struct {
	Op    string        `json:"op"` // run | wait | stop | ping
	Turn  string        `json:"turn,omitempty"`
	Argv  []string      `json:"argv,omitempty"`
	Env   []string      `json:"env,omitempty"`
	Grace time.Duration `json:"grace,omitempty"`
}

type keeperReply struct {
	OK    bool        `json:"ok"`
	Error string      `json:"error,omitempty"`
	Exit  *keeperExit `json:"exit,omitempty"`
}

// keeperExit is how a turn ended in the keeper; also what it writes to the
// turn's status file.
type keeperExit struct {
	Turn    string `json:"turn"`
	Code    int    `json:"code"`
	Started bool   `json:"started"`
	Note    string `json:"note,omitempty"`
}

// writeRequest sends a request with files (nil: none) on c.
func writeRequest(c *net.UnixConn, req keeperRequest, files []*os.File) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if len(body) > maxKeeperRequest {
		return fmt.Errorf("keeper request of %d bytes is too large", len(body))
	}
	msg := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	msg = append(msg, body...)
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(msg, oob, nil)
	if err != nil {
		return err
	}
	if n < len(msg) {
		_, err = c.Write(msg[n:])
	}
	return err
}

// readRequest reads one request and the files that came with it.
func readRequest(c *net.UnixConn) (keeperRequest, []*os.File, error) {
	var req keeperRequest
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(8*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return req, nil, err
	}
	var files []*os.File
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, m := range msgs {
				fds, ferr := syscall.ParseUnixRights(&m)
				if ferr != nil {
					continue
				}
				for _, fd := range fds {
					syscall.CloseOnExec(fd)
					files = append(files, os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd)))
				}
			}
		}
	}
	fail := func(err error) (keeperRequest, []*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return req, nil, err
	}
	data := buf[:n]
	for len(data) < 4 {
		more := make([]byte, 4)
		k, err := c.Read(more)
		if err != nil {
			return fail(err)
		}
		data = append(data, more[:k]...)
	}
	size := int(binary.BigEndian.Uint32(data))
	if size > maxKeeperRequest {
		return fail(errors.New("keeper request too large"))
	}
	body := append([]byte(nil), data[4:]...)
	if len(body) < size {
		rest := make([]byte, size-len(body))
		if _, err := io.ReadFull(c, rest); err != nil {
			return fail(err)
		}
		body = append(body, rest...)
	}
	if err := json.Unmarshal(body[:size], &req); err != nil {
		return fail(fmt.Errorf("keeper request: %w", err))
	}
	return req, files, nil
}

func writeReply(c net.Conn, rep keeperReply) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = c.Write(append(b, '\n'))
	return err
}

func readReply(c net.Conn) (keeperReply, error) {
	var rep keeperReply
	line, err := bufio.NewReaderSize(c, 64<<10).ReadBytes('\n')
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		return rep, fmt.Errorf("keeper reply: %w", err)
	}
	return rep, nil
}
