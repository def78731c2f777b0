package replay

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heimdallhub/heimdall/internal/kafka"
)

// TopicInfo is one topic with its partitions' offsets.
type TopicInfo struct {
	Name       string
	Internal   bool
	Replicas   int // replication factor (of partition 0)
	Partitions []PartitionInfo
}

// Records is the sum of end minus start offsets (the records held, for a
// topic that is not compacted).
func (t TopicInfo) Records() int64 {
	var n int64
	for _, p := range t.Partitions {
		n += p.End - p.Start
	}
	return n
}

// PartitionInfo is one partition's log start and end offsets.
type PartitionInfo struct {
	Partition  int32
	Start, End int64
}

// ListTopics lists the topics (with internal ones when internal is set),
// sorted by name, with each partition's start and end offsets.
func ListTopics(ctx context.Context, cfg kafka.Config, internal bool) ([]TopicInfo, error) {
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var td kadm.TopicDetails
	if internal {
		td, err = adm.ListTopicsWithInternal(ctx)
	} else {
		td, err = adm.ListTopics(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	names := td.Names()
	if len(names) == 0 {
		return nil, nil
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	out := make([]TopicInfo, 0, len(names))
	for _, name := range names {
		d := td[name]
		if d.Err != nil {
			return nil, fmt.Errorf("describing topic %s: %w", name, d.Err)
		}
		ti := TopicInfo{Name: name, Internal: d.IsInternal}
		for _, p := range d.Partitions.Sorted() {
			if p.Partition == 0 {
				ti.Replicas = len(p.Replicas)
			}
			pi := PartitionInfo{Partition: p.Partition}
			if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
				pi.Start = o.Offset
			}
			if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
				pi.End = o.Offset
			}
			ti.Partitions = append(ti.Partitions, pi)
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].Partition < ti.Partitions[j].Partition })
		out = append(out, ti)
	}
	return out, nil
}
