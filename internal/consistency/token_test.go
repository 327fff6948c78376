package consistency

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestToken(t *testing.T) {
	t.Run("round_trips_positions", func(t *testing.T) {
		var tok Token
		tok.Source = "memory.events"
		tok.Add(3, 45)
		tok.Add(0, 12)
		tok.Add(3, 40) // lower offset of a known partition is ignored
		got, err := Parse(tok.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if got.Source != "memory.events" || len(got.Positions) != 2 || got.Positions[0] != 12 || got.Positions[3] != 45 {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("empty_string_is_zero_token", func(t *testing.T) {
		got, err := Parse("")
		if err != nil || !got.IsZero() || (Token{}).Encode() != "" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("rejects_garbage", func(t *testing.T) {
		for _, s := range []string{"x", "v1.!!!", "v1.", "v2.abc", "v1." + b64("t|a:1"), "v1." + b64("t|1:-4"), "v1." + b64("t"), "v1." + b64("|0:1")} {
			if _, err := Parse(s); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Parse(%q) = %v, want ErrInvalidToken", s, err)
			}
		}
	})
	t.Run("merge_keeps_highest_offsets", func(t *testing.T) {
		a := Token{Source: "s", Positions: map[int32]int64{0: 5, 1: 9}}
		b := Token{Source: "s", Positions: map[int32]int64{1: 3, 2: 7}}
		m, err := a.Merge(b)
		if err != nil || m.Positions[0] != 5 || m.Positions[1] != 9 || m.Positions[2] != 7 {
			t.Fatalf("got %+v %v", m, err)
		}
		if _, err := a.Merge(Token{Source: "other", Positions: map[int32]int64{0: 1}}); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("merge of different sources: %v", err)
		}
	})
	t.Run("missing_lists_partitions_behind", func(t *testing.T) {
		tok := Token{Source: "s", Positions: map[int32]int64{0: 5, 1: 9, 2: 0}}
		lags := tok.Missing(map[int32]int64{0: 5, 1: 8})
		if len(lags) != 2 || lags[0] != (Lag{1, 9, 8}) || lags[1] != (Lag{2, 0, -1}) {
			t.Fatalf("got %+v", lags)
		}
		if len(tok.Missing(map[int32]int64{0: 6, 1: 9, 2: 1})) != 0 {
			t.Fatal("satisfied token reported lag")
		}
	})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
