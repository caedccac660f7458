package correlate

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// CampaignID is the id of the campaign of host (canonical address) that
// started in the span beginning at spanStart: 32 hex digits of a SHA-256,
// stable across versions, instances and replays.
func CampaignID(host string, spanStart time.Time) string {
	return hash32("aegis-campaign", host, strconv.FormatInt(spanStart.UnixNano(), 10))
}

// EventID is the event.id of version v of campaign id: unique per
// published record and deterministic, so consumers can drop duplicates
// by event.id alone.
func EventID(campaignID string, v int) string {
	return hash32("aegis-campaign-version", campaignID, strconv.Itoa(v))
}

// hash32 hashes the NUL-joined parts to 32 hex digits.
func hash32(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
