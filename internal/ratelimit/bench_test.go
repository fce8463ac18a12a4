package ratelimit

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/smartimage/enhance/internal/redisclient/redistest"
)

// BenchmarkAllow is one request's decision on the request path, by each
// limiter, over 1,000 keys at the enterprise plan's limit.
func BenchmarkAllow(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i) + ":images"
	}
	limiters := []struct {
		name string
		open func(b *testing.B) Limiter
	}{
		{"Local", func(*testing.B) Limiter { return NewLocal(nil) }},
		{"Redis", func(b *testing.B) Limiter {
			r, err := NewRedis(redistest.New(b), redistest.Name("enhance-test:rl:"), nil)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}},
		{"Failover", func(b *testing.B) Limiter {
			r, err := NewRedis(redistest.New(b), redistest.Name("enhance-test:rl:"), nil)
			if err != nil {
				b.Fatal(err)
			}
			f, err := NewFailover(FailoverConfig{}, r, NewLocal(nil), slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			return f
		}},
	}
	for _, lt := range limiters {
		b.Run(lt.name, func(b *testing.B) {
			l := lt.open(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := l.Allow(ctx, keys[i%len(keys)], 60000); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
