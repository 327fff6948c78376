package schemas

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// LocalSource is a SchemaSource without a registry, for direct-write mode
// and the embedded store: every catalog version gets a fixed id derived
// from its fingerprint (the first 31 bits of the SHA-256 of its canonical
// form), so ids never change when versions are added and bytes written
// today decode tomorrow. Its ids are not registry ids: bytes framed with
// them belong in the event_log of a store, never on the Kafka topic.
type LocalSource struct {
	refs  []SchemaRef
	texts map[int]string
}

// NewLocalSource assigns ids to every version of the catalog.
func NewLocalSource(c *Catalog) (*LocalSource, error) {
	s := &LocalSource{texts: map[int]string{}}
	for _, event := range c.Events() {
		for _, v := range c.Versions(event) {
			raw, err := hex.DecodeString(v.Fingerprint)
			if err != nil || len(raw) < 4 {
				return nil, fmt.Errorf("%w: %s v%d: bad fingerprint", ErrCatalog, event, v.Number)
			}
			id := int(binary.BigEndian.Uint32(raw[:4])&0x7fffffff) | 1
			if _, dup := s.texts[id]; dup {
				return nil, fmt.Errorf("%w: local schema id %d collides (%s v%d)", ErrCatalog, id, event, v.Number)
			}
			s.texts[id] = v.Text
			s.refs = append(s.refs, SchemaRef{ID: id, Event: event, Version: v.Number})
		}
	}
	return s, nil
}

// KnownIDs implements SchemaSource.
func (s *LocalSource) KnownIDs() []SchemaRef { return append([]SchemaRef(nil), s.refs...) }

// SchemaByID implements SchemaSource.
func (s *LocalSource) SchemaByID(id int) (string, error) {
	if t, ok := s.texts[id]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w: %d is not a local schema id", ErrUnknownSchemaID, id)
}

var _ SchemaSource = (*LocalSource)(nil)
