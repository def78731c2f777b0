// Package schemas embeds Heimdall's Avro schema files.
//
// Every file is named <record>.v<N>.avsc. Files are never edited once released:
// a change is a new version file, and the full-transitive compatibility test in
// package events proves that every version can read data written by every other.
// Downstream consumers can decode events from these files alone.
package schemas

import "embed"

// FS holds every *.avsc file of this directory.
//
//go:embed *.avsc
var FS embed.FS
