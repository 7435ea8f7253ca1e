package agent

import (
	"testing"
	"time"
)

func TestParseBIRDTime(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.Local)
	if ts, ok := parseBIRDTime("2026-11-24 09:23:22", now); !ok || ts.Hour() != 9 || ts.Day() != 24 {
		t.Errorf("iso long: %v %v", ts, ok)
	}
	if ts, ok := parseBIRDTime("09:23:22", now); !ok || ts.Day() != 24 || ts.Minute() != 23 {
		t.Errorf("time only: %v %v", ts, ok)
	}
	if _, ok := parseBIRDTime("Nov24", now); ok {
		t.Error("unparseable time parsed")
	}
}
