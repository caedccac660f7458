package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// recordings are the LLM stage's recorded Ollama replies.
func recording(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "ollama", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func server(t *testing.T, h func(w http.ResponseWriter, r *http.Request, req api.ChatRequest)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat" {
			http.NotFound(w, r)
			return
		}
		var req api.ChatRequest
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, `{"error":"bad json"}`, 400)
			return
		}
		h(w, r, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func client(t *testing.T, url string, stream bool) *Client {
	t.Helper()
	c, err := New(Options{URL: url, Model: "qwen3-coder", KeepAlive: 10 * time.Minute, NumCtx: 8192, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var schema = json.RawMessage(`{"type":"object"}`)

func TestChatStreamAndNot(t *testing.T) {
	var want struct {
		Message struct{ Content string } `json:"message"`
	}
	if err := json.Unmarshal(recording(t, "chat_campaign.json"), &want); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []bool{true, false} {
		url := server(t, func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
			if req.Stream == nil || *req.Stream != stream || string(req.Format) != string(schema) || req.Model != "qwen3-coder" ||
				req.KeepAlive == nil || req.KeepAlive.Duration != 10*time.Minute ||
				req.Options["temperature"] != float64(0) || req.Options["num_ctx"] != float64(8192) || len(req.Messages) != 2 {
				t.Errorf("request %+v", req)
			}
			if stream {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Write(recording(t, "chat_campaign.ndjson"))
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(recording(t, "chat_campaign.json"))
		})
		resp, err := client(t, url, stream).Chat(context.Background(), Request{Format: schema,
			Messages: []Message{{"system", "s"}, {"user", "u"}}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Content != want.Message.Content || resp.DoneReason != "stop" || resp.Model != "qwen3-coder" || resp.EvalCount == 0 {
			t.Errorf("stream=%v: response %+v", stream, resp)
		}
		if stream && resp.Chunks < 10 || !stream && resp.Chunks != 1 {
			t.Errorf("stream=%v: %d chunks", stream, resp.Chunks)
		}
	}
}

func TestChatErrors(t *testing.T) {
	cases := []struct {
		name    string
		h       func(w http.ResponseWriter, r *http.Request)
		timeout time.Duration
		path    string
		kind    Kind
		status  int
		msg     string
	}{
		{"model missing", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.Write(recording(t, "error_model_missing.json"))
		}, 0, "", KindModelMissing, 404, `model "qwen3-coder" not found`},
		{"not an Ollama server", nil, 0, "/elsewhere", KindRejected, 404, "Ollama server"},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			w.Write(recording(t, "error_500.json"))
		}, 0, "", KindUnavailable, 500, "llama runner"},
		{"503 plain text", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "overloaded", 503)
		}, 0, "", KindUnavailable, 503, "overloaded"},
		{"400", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid format: json schema"}`))
		}, 0, "", KindRejected, 400, "invalid format"},
		{"timeout before headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, 50 * time.Millisecond, "", KindTimeout, 0, "deadline"},
		{"timeout mid-stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Write([]byte(`{"model":"qwen3-coder","created_at":"2026-11-25T10:00:00Z","message":{"role":"assistant","content":"{"},"done":false}` + "\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, 50 * time.Millisecond, "", KindTimeout, 0, "before done"},
		{"stream cut", func(w http.ResponseWriter, r *http.Request) {
			w.Write(recording(t, "chat_stream_cut.ndjson"))
		}, 0, "", KindUnavailable, 0, "before done"},
		{"error object mid-stream", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"model":"qwen3-coder","created_at":"2026-11-25T10:00:00Z","message":{"role":"assistant","content":"{"},"done":false}` + "\n" + `{"error":"an error was encountered while running the model: unexpected EOF"}` + "\n"))
		}, 0, "", KindUnavailable, 0, "unexpected EOF"},
		{"garbage", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>proxy error</html>\n"))
		}, 0, "", KindUnavailable, 0, "proxy error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := server(t, func(w http.ResponseWriter, r *http.Request, _ api.ChatRequest) { c.h(w, r) })
			ctx := context.Background()
			if c.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.timeout)
				defer cancel()
			}
			_, err := client(t, url+c.path, true).Chat(ctx, Request{Messages: []Message{{"user", "u"}}})
			var e *Error
			if !errors.As(err, &e) || e.Kind != c.kind || e.Status != c.status || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v (%#v), want kind %s status %d mentioning %q", err, e, c.kind, c.status, c.msg)
			}
			if KindOf(err) != c.kind {
				t.Errorf("KindOf = %s", KindOf(err))
			}
		})
	}
}

func TestChatCanceled(t *testing.T) {
	url := server(t, func(w http.ResponseWriter, r *http.Request, _ api.ChatRequest) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	_, err := client(t, url, false).Chat(ctx, Request{})
	if KindOf(err) != KindCanceled || KindCanceled.Retryable() || !KindTimeout.Retryable() {
		t.Errorf("error %v kind %s", err, KindOf(err))
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{URL: "ftp://x", Model: "m"}, {URL: "http://", Model: "m"}, {URL: "http://x:1", Model: ""}, {URL: "::", Model: "m"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
