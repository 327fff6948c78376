package qdrantfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
)

// Version is what HealthCheck reports: the Qdrant release whose behaviour
// the double follows (and which the pinned client accepts without a
// compatibility warning).
const Version = "1.17.0"

// Server is an in-process Qdrant. Its three services (Collections, Points,
// Qdrant) share one in-memory store. Safe for concurrent use.
type Server struct {
	collections *collectionsService
	points      *pointsService
	health      *healthService
	grpc        *grpc.Server
}

// New returns a server with empty storage, not yet serving.
func New() *Server {
	st := newStore()
	s := &Server{
		collections: &collectionsService{s: st},
		points:      &pointsService{s: st},
		health:      &healthService{},
		grpc:        grpc.NewServer(),
	}
	s.Register(s.grpc)
	return s
}

// Register adds the three services to another gRPC server (Serve does not
// need it).
func (s *Server) Register(r grpc.ServiceRegistrar) {
	qdrant.RegisterCollectionsServer(r, s.collections)
	qdrant.RegisterPointsServer(r, s.points)
	qdrant.RegisterQdrantServer(r, s.health)
}

// Serve answers gRPC calls on lis until Stop; it returns nil after Stop.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("qdrantfake: serve: %w", err)
	}
	return nil
}

// Stop closes the listeners and every open connection.
func (s *Server) Stop() { s.grpc.Stop() }

// healthService implements qdrant.QdrantServer.
type healthService struct {
	qdrant.UnimplementedQdrantServer
}

func (healthService) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrantfake - in-process Qdrant double", Version: Version}, nil
}

// SplitAddr turns a Qdrant gRPC address ("host:port", optionally with an
// http:// or https:// scheme, port 6334 when absent) into a client config.
func SplitAddr(addr string) (*qdrant.Config, error) {
	cfg := &qdrant.Config{}
	rest := addr
	if scheme, after, ok := strings.Cut(addr, "://"); ok {
		cfg.UseTLS = scheme == "https"
		rest = after
	}
	rest = strings.TrimSuffix(rest, "/")
	host, portStr, err := net.SplitHostPort(rest)
	if err != nil {
		host, portStr = rest, "6334"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("qdrant address %q: want host:port", addr)
	}
	cfg.Host, cfg.Port = host, port
	return cfg, nil
}
