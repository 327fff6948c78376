package embedded

import (
	"errors"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/schemas"
)

// Bodies stores event_log bodies as Confluent-framed Avro with the
// schemas package's Codec: it is both the EventEncoder and the
// EventDecoder of a Config.
type Bodies struct {
	Codec *schemas.Codec
}

var (
	_ EventEncoder = Bodies{}
	_ EventDecoder = Bodies{}
)

// NewLocalBodies returns Bodies over the built-in catalog with the
// registry-free ids of schemas.LocalSource: what the embedded store uses
// when no schema registry is configured. Such bodies stay in the store's
// event_log (their ids are not registry ids).
func NewLocalBodies() (Bodies, error) {
	cat, err := schemas.BuiltinCatalog()
	if err != nil {
		return Bodies{}, err
	}
	src, err := schemas.NewLocalSource(cat)
	if err != nil {
		return Bodies{}, err
	}
	c, err := schemas.NewCodec(cat, src)
	if err != nil {
		return Bodies{}, err
	}
	return Bodies{Codec: c}, nil
}

// EncodeBody encodes e; an event the codec refuses (schemas.ErrInvalidEvent)
// is poison.
func (b Bodies) EncodeBody(e domain.Event) ([]byte, error) {
	out, err := b.Codec.Encode(e)
	if errors.Is(err, schemas.ErrInvalidEvent) {
		return nil, fmt.Errorf("%w: %w", projections.ErrPoison, err)
	}
	return out, err
}

// DecodeBody decodes a body written by EncodeBody (by this or any other
// version of the service).
func (b Bodies) DecodeBody(p []byte) (domain.Event, error) { return b.Codec.Decode(p) }
