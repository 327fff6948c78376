package domain

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseCoordinate(t *testing.T) {
	tooMany := strings.Repeat("1,", MaxCoordinateDims) + "1"
	exactlyMax := strings.Repeat("1,", MaxCoordinateDims-1) + "1"
	tests := []struct {
		name    string
		in      string
		wantKey string
		wantDim int
		wantErr string // substring of the error; "" means success
	}{
		{name: "parses_plain_list", in: "1,2,3", wantKey: "1,2,3", wantDim: 3},
		{name: "ignores_spaces_around_parts", in: " 1 ,\t2 , 3 ", wantKey: "1,2,3", wantDim: 3},
		{name: "drops_empty_parts", in: ",1,,2,", wantKey: "1,2", wantDim: 2},
		{name: "empty_string_is_zero_dims", in: "", wantKey: "", wantDim: 0},
		{name: "only_commas_is_zero_dims", in: " , ,", wantKey: "", wantDim: 0},
		{name: "accepts_exponent", in: "1e3", wantKey: "1000", wantDim: 1},
		{name: "nine_and_nine_point_zero_are_one_key", in: "9.0", wantKey: "9", wantDim: 1},
		{name: "negative_zero_is_zero", in: "-0,-0.0", wantKey: "0,0", wantDim: 2},
		{name: "keeps_negative_and_fraction", in: "-1.5,0.25", wantKey: "-1.5,0.25", wantDim: 2},
		{name: "large_value_key_is_shortest_form", in: "1e21", wantKey: "1e+21", wantDim: 1},
		{name: "underflow_is_zero", in: "1e-400", wantKey: "0", wantDim: 1},
		{name: "accepts_max_dims", in: exactlyMax, wantKey: exactlyMax, wantDim: MaxCoordinateDims},
		{name: "rejects_nan_coordinate", in: "1,NaN", wantErr: `part "NaN" is not finite`},
		{name: "rejects_infinity", in: "inf", wantErr: "not finite"},
		{name: "rejects_overflow", in: "1e400", wantErr: "not finite"},
		{name: "rejects_non_number", in: "1,a,3", wantErr: `part "a" is not a number`},
		{name: "rejects_inner_space", in: "1 2", wantErr: "not a number"},
		{name: "rejects_too_many_dims", in: tooMany, wantErr: "more than 64 dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCoordinate(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseCoordinate(%q) = %v, want error", tt.in, c)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				var ce *CoordinateError
				if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidCoordinate) {
					t.Errorf("error %v is not a *CoordinateError wrapping ErrInvalidCoordinate", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCoordinate(%q): %v", tt.in, err)
			}
			if c.Key() != tt.wantKey || c.Dims() != tt.wantDim {
				t.Errorf("ParseCoordinate(%q) = key %q dims %d, want %q dims %d", tt.in, c.Key(), c.Dims(), tt.wantKey, tt.wantDim)
			}
		})
	}
}

func TestNewCoordinate(t *testing.T) {
	t.Run("rejects_nan_coordinate", func(t *testing.T) {
		_, err := NewCoordinate([]float64{1, math.NaN()})
		if !errors.Is(err, ErrInvalidCoordinate) {
			t.Fatalf("err = %v, want ErrInvalidCoordinate", err)
		}
	})
	t.Run("rejects_infinity", func(t *testing.T) {
		if _, err := NewCoordinate([]float64{math.Inf(-1)}); !errors.Is(err, ErrInvalidCoordinate) {
			t.Fatalf("err = %v, want ErrInvalidCoordinate", err)
		}
	})
	t.Run("rejects_too_many_dims", func(t *testing.T) {
		if _, err := NewCoordinate(make([]float64, MaxCoordinateDims+1)); !errors.Is(err, ErrInvalidCoordinate) {
			t.Fatalf("err = %v, want ErrInvalidCoordinate", err)
		}
	})
	t.Run("does_not_alias_input", func(t *testing.T) {
		in := []float64{1, 2}
		c, err := NewCoordinate(in)
		if err != nil {
			t.Fatal(err)
		}
		in[0] = 7
		v := c.Values()
		v[1] = 7
		if c.Key() != "1,2" {
			t.Fatalf("coordinate changed through an alias: %s", c.Key())
		}
	})
	t.Run("nine_and_nine_point_zero_are_one_key", func(t *testing.T) {
		a := MustCoordinate(9)
		b, err := ParseCoordinate("9.0")
		if err != nil {
			t.Fatal(err)
		}
		if !a.Equal(b) || a.Key() != b.Key() {
			t.Fatalf("%s and %s differ", a, b)
		}
	})
	t.Run("zero_value_equals_parsed_empty", func(t *testing.T) {
		c, err := ParseCoordinate("")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Equal(Coordinate{}) {
			t.Fatal("empty coordinate differs from zero value")
		}
	})
}

func TestCoordinateInRange(t *testing.T) {
	c := MustCoordinate
	tests := []struct {
		name   string
		c      Coordinate
		lo, hi Coordinate
		want   bool
	}{
		{"inside", c(1, 2), c(0, 0), c(2, 3), true},
		{"lower_bound_inclusive", c(0, 0), c(0, 0), c(2, 3), true},
		{"upper_bound_inclusive", c(2, 3), c(0, 0), c(2, 3), true},
		{"below_in_second_dim", c(1, -1), c(0, 0), c(2, 3), false},
		{"above_in_first_dim", c(3, 1), c(0, 0), c(2, 3), false},
		{"empty_bounds_match_everything", c(100, -100), Coordinate{}, Coordinate{}, true},
		{"empty_coordinate_matches_everything", Coordinate{}, c(1), c(2), true},
		{"short_bound_constrains_prefix_only", c(1, 99), c(0), c(2), true},
		{"short_coordinate_compares_prefix_only", c(1), c(0, 50), c(2, 60), true},
		{"short_bound_still_rejects_prefix", c(5, 0), c(0), c(2), false},
		{"empty_lower_bound_only", c(5), Coordinate{}, c(4), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.InRange(tt.lo, tt.hi); got != tt.want {
				t.Errorf("%v.InRange(%v, %v) = %v, want %v", tt.c, tt.lo, tt.hi, got, tt.want)
			}
		})
	}
}

func TestCoordinateJSON(t *testing.T) {
	t.Run("marshals_array_of_numbers", func(t *testing.T) {
		b, err := json.Marshal(MustCoordinate(1, -2.5, 1e21))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "[1,-2.5,1e+21]" {
			t.Fatalf("got %s", b)
		}
	})
	t.Run("marshals_empty_as_empty_array", func(t *testing.T) {
		for _, c := range []Coordinate{{}, MustCoordinate()} {
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != "[]" {
				t.Fatalf("got %s", b)
			}
		}
	})
	ok := []struct {
		name, in, key string
	}{
		{"unmarshals_array", `[1, 2.50, -0]`, "1,2.5,0"},
		{"unmarshals_empty_array", `[]`, ""},
		{"unmarshals_comma_string", `" 9.0, 1e3 "`, "9,1000"},
		{"unmarshals_empty_string", `""`, ""},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			var c Coordinate
			if err := json.Unmarshal([]byte(tt.in), &c); err != nil {
				t.Fatal(err)
			}
			if c.Key() != tt.key {
				t.Fatalf("key %q, want %q", c.Key(), tt.key)
			}
		})
	}
	t.Run("null_leaves_value_unchanged", func(t *testing.T) {
		c := MustCoordinate(4)
		if err := json.Unmarshal([]byte(`null`), &c); err != nil {
			t.Fatal(err)
		}
		if c.Key() != "4" {
			t.Fatalf("key %q", c.Key())
		}
	})
	bad := []struct{ name, in string }{
		{"rejects_nan_coordinate", `"1,NaN"`},
		{"rejects_overflowing_number", `[1e400]`},
		{"rejects_string_element", `["1"]`},
		{"rejects_null_element", `[null]`},
		{"rejects_nested_array", `[[1]]`},
		{"rejects_object", `{"a":1}`},
		{"rejects_bare_number", `1`},
		{"rejects_too_many_dims", "[" + strings.Repeat("0,", MaxCoordinateDims) + "0]"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var c Coordinate
			err := json.Unmarshal([]byte(tt.in), &c)
			if !errors.Is(err, ErrInvalidCoordinate) {
				t.Fatalf("err = %v, want ErrInvalidCoordinate", err)
			}
		})
	}
	t.Run("round_trips_inside_struct", func(t *testing.T) {
		type req struct {
			Coord Coordinate `json:"coord"`
		}
		in := req{Coord: MustCoordinate(0.1, 2)}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out req
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if !out.Coord.Equal(in.Coord) {
			t.Fatalf("%s -> %s", in.Coord, out.Coord)
		}
	})
}

func FuzzParseCoordinate(f *testing.F) {
	for _, s := range []string{
		"", "1,2,3", " 1 , 2 ", ",,", "9.0", "1e3", "-0", "NaN", "inf", "-Infinity",
		"1e400", "1e-400", "0x1p-2", "1_000", "a", "1,,2", "4.9e-324", "1.7976931348623157e308",
		strings.Repeat("1,", MaxCoordinateDims) + "1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCoordinate(s)
		if err != nil {
			var ce *CoordinateError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidCoordinate) {
				t.Fatalf("ParseCoordinate(%q): error %v is not a *CoordinateError wrapping ErrInvalidCoordinate", s, err)
			}
			return
		}
		if c.Dims() > MaxCoordinateDims {
			t.Fatalf("ParseCoordinate(%q): %d dims", s, c.Dims())
		}
		for i := range c.Dims() {
			if v := c.At(i); math.IsNaN(v) || math.IsInf(v, 0) || math.Signbit(v) && v == 0 {
				t.Fatalf("ParseCoordinate(%q): dim %d = %v", s, i, v)
			}
		}
		key := c.Key()
		back, err := ParseCoordinate(key)
		if err != nil {
			t.Fatalf("key %q of %q does not parse: %v", key, s, err)
		}
		if !back.Equal(c) || back.Key() != key {
			t.Fatalf("key %q of %q parses to %q", key, s, back.Key())
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal %q: %v", key, err)
		}
		var viaJSON Coordinate
		if err := json.Unmarshal(b, &viaJSON); err != nil || !viaJSON.Equal(c) {
			t.Fatalf("JSON %s of %q round-trips to %v, %v", b, key, viaJSON, err)
		}
	})
}
