package redis

import (
	"github.com/somafractalmemory/soma/projections"
)

// PoisonError is the one poison error type of every read model.
type PoisonError = projections.PoisonError
