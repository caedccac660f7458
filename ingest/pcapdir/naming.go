package pcapdir

import (
	"path/filepath"
	"regexp"
	"strings"
)

// suricataMulti matches the names Suricata's pcap-log writes in multi mode
// without tokens: <filename>.<thread>.<epoch>, with ".<usec>" after it when
// ts-format is usec. Normal mode names (<filename>.<epoch>[.<usec>]) do
// not match: the thread number is at most 6 digits, the epoch 9 or 10.
var suricataMulti = regexp.MustCompile(`^(.+)\.(\d{1,6})\.(\d{9,10})(\.\d{1,6})?$`)

// writerKey names the writer of a capture file: files with the same key
// are written one after the other (a rotation ring), files with different
// keys may be written at the same time and are merged by time.
//
//   - Suricata multi mode, <filename>.<thread>.<epoch>: one writer per
//     thread number.
//   - Suricata multi mode with tokens ("%n/log.%t", one directory per
//     thread) and any other per-directory layout: one writer per
//     directory.
//   - Everything else (tcpdump -G strftime names, tcpdump -C/-W numbered
//     names, Suricata normal mode, netsniff-ng <epoch>.pcap): one writer
//     per directory.
//
// Two writers of other kinds in one directory (two tcpdump processes, say)
// look like one; see Config.CloseIdle for what that costs.
func writerKey(rel string) string {
	dir, base := filepath.Split(rel)
	if m := suricataMulti.FindStringSubmatch(base); m != nil {
		return dir + "\x00" + m[1] + "." + m[2]
	}
	return dir
}

// naturalLess orders names so that runs of digits compare as numbers:
// "ring.pcap2" before "ring.pcap10", "log" before "log1" before "log2"
// (tcpdump -C names its files name, name1, name2, ...).
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		switch {
		case da && db:
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			a, b = ra, rb
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
