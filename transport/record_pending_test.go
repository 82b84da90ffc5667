package transport

import (
	"testing"
)

// FuzzDecodeRecord's rule: a record DecodeRecord accepts survives
// EncodeRecord and DecodeRecord unchanged. A record with pending but no
// parents is accepted with its pending count, and format 3's encoder
// writes pending only for a task with parents, so the count is lost (the
// fuzzer found it: testdata/fuzz/FuzzDecodeRecord/regress-pending-without-parents).
func TestARecordWithPendingButNoParentsReadsTheSameReEncoded(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"1", "2"} {
		checkRecordRoundTrip(t, "01J", map[string]string{FVersion: v, FName: "echo", FQueue: "default",
			FState: "scheduled", FArgs: "{}", FPending: "1"})
	}
	checkRecordRoundTrip(t, "01J", map[string]string{FVersion: Version, FName: "echo", FQueue: "default",
		FState: "scheduled", FImmutable: `{"a":{}}`, FPending: "1"})
}
