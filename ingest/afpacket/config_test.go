package afpacket

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigValidate(t *testing.T) {
	valid := func(mod func(*Config)) Config {
		c := DefaultConfig()
		c.Interface = "eth1"
		mod(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" means valid
	}{
		{"defaults", valid(func(*Config) {}), ""},
		{"zero value", Config{}, "interface is required"},
		{"no interface", valid(func(c *Config) { c.Interface = "" }), "interface is required"},
		{"interface name too long", valid(func(c *Config) { c.Interface = "abcdefghijklmnop" }), "not a valid interface name"},
		{"interface name with slash", valid(func(c *Config) { c.Interface = "eth0/1" }), "not a valid interface name"},
		{"fanout id auto", valid(func(c *Config) { c.FanoutID = 0 }), ""},
		{"fanout id own", valid(func(c *Config) { c.FanoutID = 4242 }), ""},
		{"fanout id Zeek", valid(func(c *Config) { c.FanoutID = 23 }), "fanout_id 23 is the fanout group Zeek"},
		{"fanout id Suricata", valid(func(c *Config) { c.FanoutID = 99 }), "fanout_id 99 is the cluster-id Suricata"},
		{"fanout type default hash", valid(func(c *Config) { c.FanoutType = "hash" }), ""},
		{"fanout type defrag", valid(func(c *Config) { c.FanoutType = "hash_defrag" }), ""},
		{"fanout type cpu", valid(func(c *Config) { c.FanoutType = "cpu" }), ""},
		{"fanout type unknown", valid(func(c *Config) { c.FanoutType = "cluster_flow" }), `fanout_type "cluster_flow" unknown`},
		{"fanout type empty", valid(func(c *Config) { c.FanoutType = "" }), `fanout_type "" unknown`},
		{"workers 0", valid(func(c *Config) { c.Workers = 0 }), "workers 0 out of range"},
		{"workers too many", valid(func(c *Config) { c.Workers = MaxWorkers + 1 }), "out of range"},
		{"workers 1", valid(func(c *Config) { c.Workers = 1 }), ""},
		{"snaplen small", valid(func(c *Config) { c.SnapLen = 40 }), "snap_len 40 out of range"},
		{"snaplen max", valid(func(c *Config) { c.SnapLen = MaxSnapLen }), ""},
		{"block size not page multiple", valid(func(c *Config) { c.BlockSize = 1000 }), "block_size 1000 must be a multiple of the page size"},
		{"block size odd pages", valid(func(c *Config) { c.BlockSize = 3 * 4096 }), ""},
		{"block size 0", valid(func(c *Config) { c.BlockSize = 0 }), "block_size 0"},
		{"block size huge", valid(func(c *Config) { c.BlockSize = 256 << 20 }), "block_size"},
		{"one block", valid(func(c *Config) { c.NumBlocks = 1 }), "num_blocks 1 must be at least 2"},
		{"ring too big", valid(func(c *Config) { c.BlockSize = 64 << 20; c.NumBlocks = 128 }), "bytes of ring per worker"},
		{"frame size unaligned", valid(func(c *Config) { c.FrameSize = 2000 }), "frame_size 2000 must be a multiple of 16"},
		{"frame size not dividing", valid(func(c *Config) { c.FrameSize = 3008 }), "divides block_size"},
		{"frame size too small", valid(func(c *Config) { c.FrameSize = 64 }), "frame_size 64"},
		{"frame size above block", valid(func(c *Config) { c.BlockSize = 4096; c.FrameSize = 8192 }), "frame_size 8192"},
		{"block timeout 0", valid(func(c *Config) { c.BlockTimeout = 0 }), "block_timeout 0s out of range"},
		{"block timeout sub-ms", valid(func(c *Config) { c.BlockTimeout = time.Microsecond }), "block_timeout"},
		{"poll timeout 0", valid(func(c *Config) { c.PollTimeout = 0 }), "poll_timeout 0s out of range"},
		{"poll timeout long", valid(func(c *Config) { c.PollTimeout = time.Minute }), "poll_timeout"},
		{"batch 0", valid(func(c *Config) { c.BatchSize = 0 }), "batch_size 0 out of range"},
		{"filter expression", valid(func(c *Config) { c.Filter = "tcp port 443" }), ""},
		{"filter raw", valid(func(c *Config) { c.Filter = "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n" }), ""},
		{"filter raw commas", valid(func(c *Config) { c.Filter = "4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0" }), ""},
		{"filter raw bad count", valid(func(c *Config) { c.Filter = "3\n40 0 0 12\n6 0 0 0\n" }), "count says 3 instructions, 2 follow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			case err != nil && !strings.HasPrefix(err.Error(), "afpacket: "):
				t.Fatalf("Validate() = %q, want the stage name first", err)
			}
		})
	}
}

// TestConfigYAML decodes a config the way cmd/aegis does (strictly, over
// the defaults) and checks keys, durations and the refusal of Zeek's id.
func TestConfigYAML(t *testing.T) {
	decode := func(src string) (Config, error) {
		c := DefaultConfig()
		dec := yaml.NewDecoder(strings.NewReader(src))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := decode(`
interface: eth1
filter: tcp port 443 or udp port 443
workers: 4
fanout_id: 4242
fanout_type: hash_defrag
snap_len: 128
block_size: 2097152
num_blocks: 32
frame_size: 4096
block_timeout: 20ms
poll_timeout: 250ms
promiscuous: false
batch_size: 512
`)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Interface: "eth1", Filter: "tcp port 443 or udp port 443", Workers: 4, FanoutID: 4242,
		FanoutType: FanoutHashDefrag, SnapLen: 128, BlockSize: 2 << 20, NumBlocks: 32, FrameSize: 4096,
		BlockTimeout: 20 * time.Millisecond, PollTimeout: 250 * time.Millisecond, Promiscuous: false, BatchSize: 512}
	if c != want {
		t.Fatalf("decoded %+v\nwant    %+v", c, want)
	}
	if c, err := decode("interface: eth1\n"); err != nil || c.Workers != DefaultWorkers || !c.Promiscuous {
		t.Fatalf("defaults not kept: %+v, %v", c, err)
	}
	if _, err := decode("interface: eth1\nfanout_id: 23\n"); err == nil || !strings.Contains(err.Error(), "Zeek") {
		t.Fatalf("fanout_id 23 from YAML: %v, want Zeek's id refused", err)
	}
	if _, err := decode("interface: eth1\nfanout: 5\n"); err == nil {
		t.Fatal("unknown key accepted")
	}
}
