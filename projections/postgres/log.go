package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/projections"
)

// ErrNoDecoder is returned by Events when the Config has no Decoder.
var ErrNoDecoder = errors.New("postgres event log: no decoder configured")

// Events returns up to limit events of the direct-write log (those written
// by Append, source consistency.EventLogSource) with a sequence above
// after, in order, decoded with the configured Decoder. It serves the
// catch-up of the other read models and the replay of direct mode. Appends
// commit in sequence order, so a reader that saw sequence n never misses
// a smaller one later.
func (p *Projection) Events(ctx context.Context, after int64, limit int) ([]projections.Envelope, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.cfg.Decoder == nil {
		return nil, ErrNoDecoder
	}
	if limit <= 0 {
		return []projections.Envelope{}, nil
	}
	rows, err := p.pool.Query(ctx, p.q.logEvents, consistency.EventLogSource, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres event log after %d: %w", after, err)
	}
	out := []projections.Envelope{}
	var (
		seq  int64
		body []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&seq, &body}, func() error {
		ev, err := p.cfg.Decoder.DecodeBody(body)
		if err != nil {
			return fmt.Errorf("decode event %d: %w", seq, err)
		}
		out = append(out, projections.Envelope{Event: ev, Source: consistency.EventLogSource, Partition: 0, Offset: seq})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres event log after %d: %w", after, err)
	}
	return out, nil
}
