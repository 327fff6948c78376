package qdrant

import (
	"errors"

	"github.com/somafractalmemory/soma/projections"
)

// ErrIncompatibleCollection is returned by New when an existing collection
// cannot hold this projection's points (another dimension or distance,
// named vectors). The collection is left untouched: fix the configuration
// or replay into a new generation.
var ErrIncompatibleCollection = errors.New("incompatible qdrant collection")

// PoisonError is the one poison error type of every read model.
type PoisonError = projections.PoisonError
