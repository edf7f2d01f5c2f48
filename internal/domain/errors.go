// Package domain holds Evident's types, rules and error kinds; it does no I/O.
package domain

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that every adapter can answer it the same way.
type Kind string

// The error kinds. The web layer maps each to one HTTP status.
const (
	KindNotFound     Kind = "not_found"
	KindInvalid      Kind = "invalid"
	KindConflict     Kind = "conflict"
	KindUnauthorized Kind = "unauthorized"
	KindForbidden    Kind = "forbidden"
	KindRateLimited  Kind = "rate_limited"
	KindInternal     Kind = "internal"
)

// Error is an error of a known kind. Field names the input at fault for KindInvalid.
type Error struct {
	Kind    Kind
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Errorf returns an error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error naming the field at fault.
func Invalid(field, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a KindNotFound error for the named object.
func NotFound(what string) error {
	return &Error{Kind: KindNotFound, Message: what + " not found"}
}

// KindOf reports the kind of err, KindInternal for errors of no known kind.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// FieldOf reports the field an invalid-input error names, if any.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// MessageOf returns the part of err that is safe to show to a user: the message of a known
// kind, or a generic sentence for internal errors, whose details belong in the log only.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal {
		return e.Error()
	}
	return "internal error"
}

// IsNotFound reports whether err is of KindNotFound.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }
