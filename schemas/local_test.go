package schemas

import (
	"errors"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

func TestLocalSource(t *testing.T) {
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewLocalSource(cat)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewLocalSource(cat)
	if len(src.KnownIDs()) != 5 || src.KnownIDs()[0] != again.KnownIDs()[0] {
		t.Fatalf("ids must be stable: %v", src.KnownIDs())
	}
	codec, err := NewCodec(cat, src)
	if err != nil {
		t.Fatal(err)
	}
	e := domain.MemoryDeleted{EventMeta: domain.EventMeta{EventID: "0190f0f0-0000-7000-8000-000000000001", Namespace: "ns", OccurredAt: time.Unix(5, 0).UTC()}, Coordinate: domain.MustCoordinate(1, 2)}
	b, err := codec.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.Decode(b)
	if err != nil || got.(domain.MemoryDeleted).Coordinate.Key() != "1,2" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := src.SchemaByID(7); !errors.Is(err, ErrUnknownSchemaID) {
		t.Fatalf("got %v", err)
	}
}
