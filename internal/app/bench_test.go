package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// BenchmarkRESTEnhance is the whole request path for a 768×512 JPEG:
// HTTPS, the gateway, the gRPC hop through every interceptor, decode, the
// general pipeline and encode.
func BenchmarkRESTEnhance(b *testing.B) {
	s := startServer(b, nil)
	s.setDevPlan(b, "business") // 3000 requests a minute
	s.grantDev(b, 1_000_000)
	img := testImage(b, "kodim23.jpg")
	headers := map[string]string{"x-api-key": s.key}
	b.ReportAllocs()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		resp := s.post(b, "/v1/enhance", "image/jpeg", img, headers)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkSmallEnhance is a small PNG enhanced through each door, side
// by side on one server: gRPC direct, and REST through the gateway, as a
// raw upload (the gateway's own gRPC call) and as base64 in JSON (the
// grpc-gateway route). B/op and allocs/op
// count the whole process, client included, as the 256 KB does.
// The difference between the doors is what the gateway costs.
func BenchmarkSmallEnhance(b *testing.B) {
	// A clock a minute ahead at every reading: the benchmark runs more
	// than any plan's requests a minute, and rate limits are not what it
	// measures (they still run, and cost what they cost).
	var ticks atomic.Int64
	start := time.Now()
	s := startServer(b, nil, WithClock(func() time.Time {
		return start.Add(time.Duration(ticks.Add(1)) * time.Minute)
	}))
	s.grantDev(b, 100_000_000)
	images := enhancev1.NewImageServiceClient(s.grpc)
	for _, size := range []int{64, 256} {
		img := photoPNG(b, size)
		b.Run(fmt.Sprintf("%dx%d/door=grpc", size, size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				resp, err := images.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: img})
				if err != nil {
					b.Fatal(err)
				}
				if len(resp.GetImage().GetData()) == 0 {
					b.Fatal("empty image")
				}
			}
		})
		b.Run(fmt.Sprintf("%dx%d/door=rest-json", size, size), func(b *testing.B) {
			body := []byte(`{"imageBase64": "` + base64.StdEncoding.EncodeToString(img) + `"}`)
			headers := map[string]string{"x-api-key": s.key}
			b.ReportAllocs()
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				resp := s.post(b, "/v1/enhance", "application/json", body, headers)
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n == 0 {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
		b.Run(fmt.Sprintf("%dx%d/door=rest", size, size), func(b *testing.B) {
			headers := map[string]string{"x-api-key": s.key}
			b.ReportAllocs()
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				resp := s.post(b, "/v1/enhance", "image/png", img, headers)
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n == 0 {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}

// BenchmarkSmallCall is the cheapest call through each door (the price
// list: public, no database), so that the difference between the doors is
// the gateway's own cost: HTTPS, the gateway, and its gRPC hop.
func BenchmarkSmallCall(b *testing.B) {
	var ticks atomic.Int64
	start := time.Now()
	s := startServer(b, nil, WithClock(func() time.Time {
		return start.Add(time.Duration(ticks.Add(1)) * time.Minute)
	}))
	usage := enhancev1.NewUsageServiceClient(s.grpc)
	b.Run("door=grpc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := usage.GetPricing(context.Background(), &enhancev1.GetPricingRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("door=rest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a := s.send(http.MethodGet, "/v1/pricing", "", nil, nil)
			if a.err != nil || a.status != http.StatusOK {
				b.Fatalf("status %d: %v", a.status, a.err)
			}
		}
	})
}

// BenchmarkGatewayConnection is the choice behind the gateway's
// connection, side by side on one server: the same calls over TLS on TCP
// loopback (how the gateway dialled before) and over the in-memory
// connection it uses now (also TLS).
func BenchmarkGatewayConnection(b *testing.B) {
	var ticks atomic.Int64
	start := time.Now()
	s := startServer(b, nil, WithClock(func() time.Time {
		return start.Add(time.Duration(ticks.Add(1)) * time.Minute)
	}))
	s.grantDev(b, 100_000_000)
	tcp, err := grpc.NewClient(s.app.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(s.app.tls.PinnedClientConfig())))
	require.NoError(b, err)
	b.Cleanup(func() { tcp.Close() })
	img := photoPNG(b, 64)
	for _, c := range []struct {
		name string
		conn *grpc.ClientConn
	}{{"tcp-loopback", tcp}, {"in-process", s.app.conn}} {
		b.Run("call=pricing/conn="+c.name, func(b *testing.B) {
			usage := enhancev1.NewUsageServiceClient(c.conn)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := usage.GetPricing(context.Background(), &enhancev1.GetPricingRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("call=enhance-64x64/conn="+c.name, func(b *testing.B) {
			images := enhancev1.NewImageServiceClient(c.conn)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := images.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: img}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// photoPNG is the middle size×size of a test photo as an opaque PNG: real
// content, so that the pipeline's steps find work to do.
func photoPNG(t testing.TB, size int) []byte {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(testImage(t, "bird.png")))
	require.NoError(t, err)
	b := src.Bounds()
	require.True(t, b.Dx() >= size && b.Dy() >= size, "bird.png is %v", b)
	crop := image.NewRGBA(image.Rect(0, 0, size, size))
	at := image.Pt(b.Min.X+(b.Dx()-size)/2, b.Min.Y+(b.Dy()-size)/2)
	draw.Draw(crop, crop.Rect, src, at, draw.Src)
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, crop))
	return buf.Bytes()
}
