package app

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/embedded"
)

// embeddedLog is the embedded store as the event_log of direct mode
// (direct.Log): its Append returns the token of the last position, and the
// positions of one append are consecutive.
type embeddedLog struct{ *embedded.Store }

func (l embeddedLog) Append(ctx context.Context, events []domain.Event) ([]projections.Envelope, error) {
	tok, err := l.Store.Append(ctx, events)
	if err != nil || len(events) == 0 {
		return nil, err
	}
	last := tok.Positions[0]
	out := make([]projections.Envelope, len(events))
	for i, e := range events {
		out[i] = projections.Envelope{Event: e, Source: consistency.EventLogSource, Partition: 0, Offset: last - int64(len(events)-1-i)}
	}
	return out, nil
}
