package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	ppg "github.com/somafractalmemory/soma/projections/postgres"
)

// Reconnection backoff of ListenPositions.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// ListenPositions listens on the projection's notification channel
// (ppg.NotifyChannel), on which every committed Apply or Append of any
// schema announces new positions, and signals on the returned channel
// after each notification. Signals coalesce (the channel holds at most
// one), so a receiver re-reads positions rather than counting signals;
// the notification payload (the schema name) is not inspected, so a
// replay generation's commits wake receivers too.
//
// It uses a dedicated connection made with the pool's connection config
// (not one of the pool's). When that connection fails it reconnects with
// backoff (100ms doubling to 5s) and signals once reconnected, since
// notifications sent meanwhile were lost. The channel is closed when ctx
// ends. The error is only for the first connection or LISTEN.
func ListenPositions(ctx context.Context, pool *pgxpool.Pool) (<-chan struct{}, error) {
	if pool == nil {
		return nil, fmt.Errorf("listen %s: nil pool", ppg.NotifyChannel)
	}
	cfg := pool.Config().ConnConfig.Copy()
	conn, err := listen(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", ppg.NotifyChannel, classify(err))
	}
	ch := make(chan struct{}, 1)
	go listenLoop(ctx, cfg, conn, ch)
	return ch, nil
}

// listen opens a connection and subscribes it to the channel.
func listen(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ppg.NotifyChannel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

func listenLoop(ctx context.Context, cfg *pgx.ConnConfig, conn *pgx.Conn, ch chan struct{}) {
	defer close(ch)
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	backoff := listenMinBackoff
	for {
		if conn == nil {
			timer := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			c, err := listen(ctx, cfg)
			if err != nil {
				backoff = min(2*backoff, listenMaxBackoff)
				continue
			}
			conn, backoff = c, listenMinBackoff
			signal(ch) // what was announced while disconnected is lost
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			closeConn(conn)
			conn = nil
			continue
		}
		signal(ch)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
