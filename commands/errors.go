package commands

import (
	"errors"

	"github.com/somafractalmemory/soma/domain"
)

func asValidation(err error, target *domain.ValidationErrors) bool {
	return errors.As(err, target)
}

// invalid builds a one-field validation error.
func invalid(field, msg string, cause error) error {
	return domain.ValidationErrors{{Field: field, Message: msg, Err: cause}}
}
