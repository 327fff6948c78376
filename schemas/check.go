package schemas

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// Problem is one compatibility violation: the schema of ReaderVersion
// cannot read events written with WriterVersion. Under BACKWARD_TRANSITIVE
// every version must read every earlier one, because the log is replayed
// from offset 0 forever.
type Problem struct {
	Event   string
	Subject string
	// ReaderVersion is the local version number of the newer schema.
	ReaderVersion int
	// WriterVersion is the older version: a local version number for
	// Catalog.Check, the registry's version number for CheckRegistry
	// (0 when the registry reported no version).
	WriterVersion int
	// Registry is true when the registry, not the local check, said so.
	Registry bool
	Reason   string
}

func (p Problem) String() string {
	where := "local"
	if p.Registry {
		where = "registry"
	}
	if p.WriterVersion == 0 {
		return fmt.Sprintf("%s v%d: %s: %s", p.Event, p.ReaderVersion, where, p.Reason)
	}
	return fmt.Sprintf("%s v%d cannot read v%d (%s): %s", p.Event, p.ReaderVersion, p.WriterVersion, where, p.Reason)
}

// Check verifies, offline, that for every event each version can read
// data written by every earlier version (backward-transitive), using
// hamba/avro's schema-compatibility rules. It returns nil when all is
// well.
//
// A fresh avro.SchemaCompatibility is used for each pair: a checker caches
// its verdicts by canonical fingerprint, which ignores defaults, so a
// checker that once judged "v2 without default" would give the same answer
// for "v2 with default" (and the reverse).
func (c *Catalog) Check() []Problem {
	var problems []Problem
	for _, event := range c.events {
		vs := c.versions[event]
		for i := 1; i < len(vs); i++ {
			for j := 0; j < i; j++ {
				if err := compatible(vs[i].Schema, vs[j].Schema); err != nil {
					problems = append(problems, Problem{
						Event:         event,
						ReaderVersion: vs[i].Number,
						WriterVersion: vs[j].Number,
						Reason:        err.Error(),
					})
				}
			}
		}
	}
	return problems
}

// compatible reports whether reader can read data written with writer,
// with a checker of its own (see Check).
func compatible(reader, writer avro.Schema) error {
	return avro.NewSchemaCompatibility().Compatible(reader, writer)
}
