package coupling

import (
	"slices"
	"testing"
)

// dir builds a Detail from (ms, bytes) pairs.
func dir(pkts ...[2]int64) Detail {
	var d Detail
	for _, p := range pkts {
		d.Times = append(d.Times, t0+ms(float64(p[0])))
		d.Sizes = append(d.Sizes, uint32(p[1]))
	}
	return d
}

func sp(a, b float64) Span { return Span{Start: t0 + ms(a), End: t0 + ms(b)} }

func TestAnswers(t *testing.T) {
	ex := DefaultExtractConfig()
	// A TLS handshake, then two answers on one connection, then the idle
	// close with a close_notify a minute later.
	tlsClient := dir([2]int64{0, 517}, [2]int64{40, 64}, [2]int64{45, 31},
		[2]int64{50, 700}, [2]int64{51, 1448}, // request 1: headers and body
		[2]int64{300, 40},                        // WINDOW_UPDATE mid-stream
		[2]int64{3000, 190}, [2]int64{3001, 900}) // request 2: headers apart
	tlsServer := dir([2]int64{20, 1448}, [2]int64{20, 1448}, [2]int64{21, 900}, [2]int64{42, 83}, // handshake
		[2]int64{600, 400}, [2]int64{640, 300}, [2]int64{680, 300}, [2]int64{681, 20}, [2]int64{720, 300}, [2]int64{900, 60}, // answer 1
		[2]int64{3500, 500}, [2]int64{3550, 300}, [2]int64{3600, 300}, [2]int64{3700, 40}, // answer 2
		[2]int64{65000, 24}) // close_notify at the idle close
	cases := []struct {
		name           string
		client, server Detail
		want           []Span
	}{
		{"handshake then two answers", tlsClient, tlsServer, []Span{sp(50, 900), sp(3000, 3700)}},
		{"no server data", tlsClient, Detail{}, nil},
		{"plain HTTP, headers apart", dir([2]int64{0, 190}, [2]int64{1, 2000}),
			dir([2]int64{100, 300}, [2]int64{150, 200}, [2]int64{200, 200}), []Span{sp(0, 200)}},
		{"a response of two writes is no answer", dir([2]int64{0, 600}),
			dir([2]int64{100, 300}, [2]int64{150, 200}), nil},
		{"trimmed: the last turn is dropped", tlsClient, Detail{Times: tlsServer.Times, Sizes: tlsServer.Sizes, Trimmed: true}, []Span{sp(50, 900)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ex.Answers(c.client, c.server); !slices.Equal(got, c.want) {
				t.Errorf("got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	ex := DefaultExtractConfig()
	// SSH: banner, kex and login in quick ping-pong, the prompt, then an
	// agent's two command lines after pauses, each echoed and answered;
	// then a person typing (keys 150 ms apart: one command start).
	in := dir([2]int64{0, 41}, [2]int64{10, 1500}, [2]int64{30, 100}, [2]int64{60, 600},
		[2]int64{2000, 120},                                                            // command 1
		[2]int64{5000, 200},                                                            // command 2
		[2]int64{9000, 36}, [2]int64{9150, 36}, [2]int64{9300, 36}, [2]int64{9450, 36}) // typed
	out := dir([2]int64{5, 41}, [2]int64{20, 1100}, [2]int64{50, 300}, [2]int64{80, 500}, [2]int64{100, 40},
		[2]int64{2030, 120}, [2]int64{2100, 800},
		[2]int64{5030, 200}, [2]int64{5200, 3000},
		[2]int64{9030, 36}, [2]int64{9180, 36}, [2]int64{9330, 36}, [2]int64{9480, 36})
	want := []int64{t0 + ms(2000), t0 + ms(5000), t0 + ms(9000)}
	if got := ex.Commands(in, out); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Nothing before the other side has spoken.
	if got := ex.Commands(dir([2]int64{0, 41}, [2]int64{5000, 100}), Detail{}); len(got) != 0 {
		t.Errorf("commands before any output: %v", got)
	}
	// Trimmed output detail: silence after its end cannot be judged.
	o := out
	o.Trimmed = true
	o.Times, o.Sizes = o.Times[:7], o.Sizes[:7]
	if got := ex.Commands(in, o); !slices.Equal(got, want[:1]) {
		t.Errorf("trimmed: got %v, want %v", got, want[:1])
	}
}
