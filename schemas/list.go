package schemas

import (
	"context"
	"fmt"
	"net/http"

	"github.com/riferrei/srclient"
)

// ListEntry describes one local schema version, for `soma schemas list`.
type ListEntry struct {
	Event       string
	Record      string // Avro full name
	Subject     string
	Version     int // local version number
	Latest      bool
	Fingerprint string // hex SHA-256 of the parsing canonical form
	// ID is the registry id of this version, 0 when listed offline or
	// not registered.
	ID int
}

// List describes every local version, oldest first per event, with the
// subjects they belong to under topic (no registry involved).
func (c *Catalog) List(topic string) []ListEntry {
	if topic == "" {
		topic = DefaultTopic
	}
	var out []ListEntry
	for _, event := range c.events {
		vs := c.versions[event]
		for i, v := range vs {
			out = append(out, ListEntry{
				Event:       event,
				Record:      v.FullName,
				Subject:     Subject(topic, v.FullName),
				Version:     v.Number,
				Latest:      i == len(vs)-1,
				Fingerprint: v.Fingerprint,
			})
		}
	}
	return out
}

// List is Catalog.List with the registry id of each version that is
// registered under its subject (0 for those that are not). It registers
// nothing.
func (r *RegistryClient) List(ctx context.Context) ([]ListEntry, error) {
	entries := r.catalog.List(r.cfg.Topic)
	for i := range entries {
		e := &entries[i]
		v := r.catalog.versions[e.Event][e.Version-1]
		s, err := call(ctx, func() (*srclient.Schema, error) {
			return r.client.LookupSchema(e.Subject, v.Text, srclient.Avro)
		})
		if err != nil {
			if status(err) == http.StatusNotFound {
				continue
			}
			return nil, r.classify(fmt.Sprintf("look up %s v%d in subject %q", e.Event, e.Version, e.Subject), err, nil)
		}
		e.ID = s.ID()
	}
	return entries, nil
}

// CheckRegistry asks the registry whether the latest local version of each
// event may be registered: it must be compatible with every version
// already registered under its subject, and the subject's compatibility
// level must be BACKWARD_TRANSITIVE. A subject that does not exist yet is
// fine (registering creates it). Problems are returned; the error is for
// a registry that could not be asked. The local Check is authoritative
// offline; this one catches divergence from what the registry holds
// (versions registered by other builds).
func (r *RegistryClient) CheckRegistry(ctx context.Context) ([]Problem, error) {
	var problems []Problem
	for _, event := range r.catalog.events {
		subject := r.Subject(event)
		latest, _ := r.catalog.Latest(event)
		versions, err := call(ctx, func() ([]int, error) { return r.client.GetSchemaVersions(subject) })
		if err != nil {
			if status(err) == http.StatusNotFound {
				continue
			}
			return problems, r.classify(fmt.Sprintf("list versions of subject %q", subject), err, nil)
		}
		if len(versions) == 0 {
			continue
		}
		level, err := call(ctx, func() (*srclient.CompatibilityLevel, error) {
			return r.client.GetCompatibilityLevel(subject, false)
		})
		switch {
		case err != nil && status(err) == http.StatusNotFound:
			problems = append(problems, Problem{
				Event: event, Subject: subject, ReaderVersion: latest.Number, Registry: true,
				Reason: fmt.Sprintf("subject %q has no compatibility level of its own (the registry default applies), want %s", subject, CompatibilityLevel),
			})
		case err != nil:
			return problems, r.classify(fmt.Sprintf("get compatibility of subject %q", subject), err, nil)
		case level == nil || *level != CompatibilityLevel:
			got := "none"
			if level != nil {
				got = string(*level)
			}
			problems = append(problems, Problem{
				Event: event, Subject: subject, ReaderVersion: latest.Number, Registry: true,
				Reason: fmt.Sprintf("subject %q has compatibility %s, want %s", subject, got, CompatibilityLevel),
			})
		}
		for _, v := range versions {
			ok, err := call(ctx, func() (bool, error) {
				return r.client.IsSchemaCompatible(subject, latest.Text, fmt.Sprint(v), srclient.Avro)
			})
			if err != nil {
				if status(err) == http.StatusNotFound {
					continue // version deleted meanwhile
				}
				return problems, r.classify(fmt.Sprintf("check %s v%d against subject %q version %d", event, latest.Number, subject, v), err, nil)
			}
			if !ok {
				problems = append(problems, Problem{
					Event: event, Subject: subject, ReaderVersion: latest.Number, WriterVersion: v, Registry: true,
					Reason: fmt.Sprintf("registry reports local v%d incompatible with registered version %d", latest.Number, v),
				})
			}
		}
	}
	return problems, nil
}
