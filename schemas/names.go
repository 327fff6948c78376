package schemas

import "github.com/somafractalmemory/soma/domain"

// Names on the wire. Record full names and subjects are part of the log's
// contract: renaming one makes every event already written undecodable by
// name and starts a new, unrelated subject in the registry.
const (
	// RecordNamespace is the Avro namespace of every event record.
	RecordNamespace = "io.somafractalmemory.events"

	RecordMemoryStored        = RecordNamespace + "." + domain.EventMemoryStored
	RecordMemoryDeleted       = RecordNamespace + "." + domain.EventMemoryDeleted
	RecordMemoriesLinked      = RecordNamespace + "." + domain.EventMemoriesLinked
	RecordMemoryUnlinked      = RecordNamespace + "." + domain.EventMemoryUnlinked
	RecordMemoryImportanceSet = RecordNamespace + "." + domain.EventMemoryImportanceSet

	// DefaultTopic is the topic the subjects are named after when the
	// configuration does not name one.
	DefaultTopic = "memory.events"
)

// RecordName returns the Avro full name of an event name (one of the
// domain.Event* constants).
func RecordName(event string) (string, bool) {
	switch event {
	case domain.EventMemoryStored:
		return RecordMemoryStored, true
	case domain.EventMemoryDeleted:
		return RecordMemoryDeleted, true
	case domain.EventMemoriesLinked:
		return RecordMemoriesLinked, true
	case domain.EventMemoryUnlinked:
		return RecordMemoryUnlinked, true
	case domain.EventMemoryImportanceSet:
		return RecordMemoryImportanceSet, true
	}
	return "", false
}

// EventForRecord is the inverse of RecordName.
func EventForRecord(fullName string) (string, bool) {
	switch fullName {
	case RecordMemoryStored:
		return domain.EventMemoryStored, true
	case RecordMemoryDeleted:
		return domain.EventMemoryDeleted, true
	case RecordMemoriesLinked:
		return domain.EventMemoriesLinked, true
	case RecordMemoryUnlinked:
		return domain.EventMemoryUnlinked, true
	case RecordMemoryImportanceSet:
		return domain.EventMemoryImportanceSet, true
	}
	return "", false
}

// Subject is the registry subject of a record under the topic-record-name
// strategy: "<topic>-<record full name>", e.g.
// "memory.events-io.somafractalmemory.events.MemoryStored".
func Subject(topic, recordFullName string) string {
	return topic + "-" + recordFullName
}
