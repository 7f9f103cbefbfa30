package relay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Git's pkt-line framing (gitprotocol-common): four hex digits of length
// (the four included), then the payload; "0000" is a flush.
const (
	pktMax      = 65520         // largest pkt-line, length included
	sidebandMax = 65519 - 4 - 1 // payload of one side-band-64k data packet, band byte excluded
	zeroID      = "0000000000000000000000000000000000000000"
)

var errPktLine = errors.New("malformed pkt-line")

// readPkt reads one pkt-line: its payload, or flush true for "0000".
func readPkt(r *bufio.Reader) (payload []byte, flush bool, err error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, false, err
	}
	n, err := strconv.ParseUint(string(head[:]), 16, 16)
	switch {
	case err != nil:
		return nil, false, errPktLine
	case n == 0:
		return nil, true, nil
	case n < 4 || n > pktMax:
		return nil, false, errPktLine
	}
	payload = make([]byte, n-4)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, false, fmt.Errorf("%w: %v", errPktLine, err)
	}
	return payload, false, nil
}

// appendPkt appends payload as one pkt-line.
func appendPkt(b []byte, payload string) []byte {
	return append(fmt.Appendf(b, "%04x", len(payload)+4), payload...)
}

// pushCommand is one ref update of a push: old and new object ids, the ref.
type pushCommand struct{ Old, New, Ref string }

// pushRequest is what a receive-pack request says before its pack.
type pushRequest struct {
	Commands []pushCommand
	// Caps are the client's capabilities (on the first command).
	Caps []string
	// Head is every byte read so far, to be sent on before the rest.
	Head []byte
}

func (p pushRequest) sideband() bool {
	for _, c := range p.Caps {
		if c == "side-band-64k" || c == "side-band" {
			return true
		}
	}
	return false
}

// maxPushHead bounds the command section of a push (shallow lines and
// commands): far more than one branch needs.
const maxPushHead = 1 << 20

// readPushRequest reads a receive-pack request's shallow lines and commands
// up to their flush; the pack (and push options) stay in r. A request with
// no command at all (git's "0000" probe before a large push) is valid.
func readPushRequest(r *bufio.Reader) (pushRequest, error) {
	var p pushRequest
	for {
		payload, flush, err := readPkt(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(p.Head) == 0 {
				return p, nil // an empty body
			}
			return p, fmt.Errorf("read push commands: %w", err)
		}
		if flush {
			p.Head = append(p.Head, "0000"...)
			return p, nil
		}
		p.Head = appendPkt(p.Head, string(payload))
		if len(p.Head) > maxPushHead {
			return p, errors.New("read push commands: too many")
		}
		line := strings.TrimSuffix(string(payload), "\n")
		if strings.HasPrefix(line, "shallow ") && len(p.Commands) == 0 {
			continue
		}
		if len(p.Commands) == 0 {
			if cmd, caps, ok := strings.Cut(line, "\x00"); ok {
				line, p.Caps = cmd, strings.Fields(caps)
			}
		}
		f := strings.Split(line, " ")
		if len(f) != 3 || !isObjectID(f[0]) || !isObjectID(f[1]) || f[2] == "" {
			return p, fmt.Errorf("read push commands: %w: not a ref update", errPktLine)
		}
		p.Commands = append(p.Commands, pushCommand{Old: f[0], New: f[1], Ref: f[2]})
	}
}

func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isZeroID(s string) bool { return strings.Trim(s, "0") == "" }

// refusalReport is a receive-pack result that refuses every command with
// its reason, in side-band-64k band 1 when the client asked for it: git
// prints "! [remote rejected] <ref> (<reason>)" for each.
func refusalReport(p pushRequest, reasons []string) []byte {
	report := appendPkt(nil, "unpack ok\n")
	for i, c := range p.Commands {
		report = appendPkt(report, "ng "+c.Ref+" "+reasons[i]+"\n")
	}
	report = append(report, "0000"...)
	if !p.sideband() {
		return report
	}
	var out []byte
	for len(report) > 0 {
		n := min(len(report), sidebandMax)
		out = appendPkt(out, "\x01"+string(report[:n]))
		report = report[n:]
	}
	return append(out, "0000"...)
}

// refStatus is one line of a receive-pack result: ok, or ng with a reason.
type refStatus struct {
	Ref, Reason string
	OK          bool
}

// reportParser reads a receive-pack result as it streams back (Write never
// fails and keeps at most one pkt-line), demultiplexing side-band band 1.
type reportParser struct {
	sideband bool
	outer    []byte // unread bytes of the response (side-band packets)
	inner    []byte // unread bytes of band 1 (report-status pkt-lines)
	unpack   string
	statuses []refStatus
	broken   bool
}

func (p *reportParser) Write(b []byte) (int, error) {
	if p.broken {
		return len(b), nil
	}
	if !p.sideband {
		p.inner = append(p.inner, b...)
		p.parseInner()
		return len(b), nil
	}
	p.outer = append(p.outer, b...)
	for {
		payload, flush, rest, ok := p.cut(p.outer)
		if !ok {
			break
		}
		p.outer = rest
		if !flush && len(payload) > 0 && payload[0] == 1 {
			p.inner = append(p.inner, payload[1:]...)
		}
	}
	p.parseInner()
	return len(b), nil
}

func (p *reportParser) parseInner() {
	for {
		payload, flush, rest, ok := p.cut(p.inner)
		if !ok {
			return
		}
		p.inner = rest
		if flush {
			continue
		}
		line := strings.TrimSuffix(string(payload), "\n")
		switch {
		case strings.HasPrefix(line, "unpack "):
			p.unpack = strings.TrimPrefix(line, "unpack ")
		case strings.HasPrefix(line, "ok "):
			p.statuses = append(p.statuses, refStatus{Ref: strings.TrimPrefix(line, "ok "), OK: true})
		case strings.HasPrefix(line, "ng "):
			ref, reason, _ := strings.Cut(strings.TrimPrefix(line, "ng "), " ")
			p.statuses = append(p.statuses, refStatus{Ref: ref, Reason: reason})
		}
	}
}

// cut takes one whole pkt-line off b; ok false when b holds less than one.
func (p *reportParser) cut(b []byte) (payload []byte, flush bool, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, false, b, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil || (n > 0 && n < 4) || n > pktMax {
		p.broken, p.outer, p.inner = true, nil, nil
		return nil, false, nil, false
	}
	if n == 0 {
		return nil, true, b[4:], true
	}
	if uint64(len(b)) < n {
		return nil, false, b, false
	}
	return bytes.Clone(b[4:n]), false, b[n:], true
}
