package report

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// cdpClient is a minimal Chrome DevTools Protocol client over a
// hand-written WebSocket (RFC 6455) connection: enough to drive one
// headless page from a test without third-party modules.
type cdpClient struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex // serialises frame writes

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	events  []cdpMessage
	notify  chan struct{} // signalled (non-blocking) on every event
	readErr error
	done    chan struct{}
}

// cdpMessage is one protocol message: a reply (ID set) or an event.
type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// dialCDP opens the WebSocket at wsURL (ws://host:port/devtools/...).
func dialCDP(ctx context.Context, wsURL string) (*cdpClient, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	keyBytes := make([]byte, 16)
	rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	// No Origin header: Chromium only checks the origin of clients that send one.
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 1<<16)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	c := &cdpClient{conn: conn, br: br, pending: map[int64]chan cdpMessage{}, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// writeFrame sends one masked frame (clients must mask).
func (c *cdpClient) writeFrame(opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	hdr := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, masked...))
	return err
}

// readMessage reads one whole (possibly fragmented) data message,
// answering pings on the way.
func (c *cdpClient) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
		masked, n := h[1]&0x80 != 0, uint64(h[1]&0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 256<<20 {
			return nil, fmt.Errorf("websocket frame of %d bytes", n)
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(c.br, mask[:]); err != nil {
				return nil, err
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return nil, err
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch opcode {
		case 0x8: // close
			return nil, io.EOF
		case 0x9: // ping
			if err := c.writeFrame(0xA, payload); err != nil {
				return nil, err
			}
			continue
		case 0xA: // pong
			continue
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}

func (c *cdpClient) readLoop() {
	defer close(c.done)
	for {
		raw, err := c.readMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			continue
		}
		c.mu.Lock()
		if m.ID != 0 {
			if ch, ok := c.pending[m.ID]; ok {
				ch <- m
				delete(c.pending, m.ID)
			}
		} else {
			c.events = append(c.events, m)
			select {
			case c.notify <- struct{}{}:
			default:
			}
		}
		c.mu.Unlock()
	}
}

// call sends a command (to sessionID's target, or to the browser when
// empty) and waits for its result.
func (c *cdpClient) call(ctx context.Context, sessionID, method string, params any, result any) error {
	c.mu.Lock()
	if c.readErr != nil {
		c.mu.Unlock()
		return c.readErr
	}
	c.nextID++
	id := c.nextID
	ch := make(chan cdpMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	b, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params, "sessionId": sessionID})
	if err != nil {
		return err
	}
	if sessionID == "" {
		b, _ = json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	}
	if err := c.writeFrame(0x1, b); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: connection closed", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	}
}

// waitEvent waits for an event of method (for sessionID) and returns it.
func (c *cdpClient) waitEvent(ctx context.Context, sessionID, method string) (cdpMessage, error) {
	seen := 0
	for {
		c.mu.Lock()
		for ; seen < len(c.events); seen++ {
			if e := c.events[seen]; e.Method == method && e.SessionID == sessionID {
				c.mu.Unlock()
				return e, nil
			}
		}
		err := c.readErr
		c.mu.Unlock()
		if err != nil {
			return cdpMessage{}, err
		}
		select {
		case <-ctx.Done():
			return cdpMessage{}, fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		case <-c.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// allEvents returns a copy of the events received so far.
func (c *cdpClient) allEvents() []cdpMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cdpMessage(nil), c.events...)
}

// close ends the connection and waits for the reader.
func (c *cdpClient) close() error {
	err := c.conn.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
