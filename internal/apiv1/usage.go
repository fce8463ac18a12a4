package apiv1

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/credits"
)

// UsageServer implements enhancev1.UsageServiceServer.
type UsageServer struct {
	enhancev1.UnimplementedUsageServiceServer
	ledger *credits.Ledger
}

// NewUsageServer returns the usage service.
func NewUsageServer(l *credits.Ledger) (*UsageServer, error) {
	if l == nil {
		return nil, errors.New("apiv1: usage server needs a ledger")
	}
	return &UsageServer{ledger: l}, nil
}

// Ledger paging: the page token is the id of the last entry shown.
const (
	defaultLedgerPage = 100
	maxLedgerPage     = 1000
)

// GetUsage implements enhancev1.UsageServiceServer.
func (s *UsageServer) GetUsage(ctx context.Context, req *enhancev1.GetUsageRequest) (*enhancev1.GetUsageResponse, error) {
	size, after, err := page(req.GetPageSize(), req.GetPageToken(), defaultLedgerPage, maxLedgerPage)
	if err != nil {
		return nil, err
	}
	accountID := principal(ctx).AccountID
	u, err := s.ledger.Usage(ctx, accountID)
	if err != nil {
		return nil, err
	}
	entries, err := s.ledger.Entries(ctx, accountID, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &enhancev1.GetUsageResponse{
		PeriodStart:      timestamppb.New(u.PeriodStart),
		PeriodEnd:        timestamppb.New(u.PeriodEnd),
		Plan:             u.Plan,
		CreditsGranted:   int32(u.Granted),
		CreditsUsed:      int32(u.Used),
		CreditsRemaining: int32(u.Remaining()),
	}
	if len(entries) > size {
		entries = entries[:size]
		resp.NextPageToken = strconv.FormatInt(entries[size-1].ID, 10)
	}
	for _, e := range entries {
		resp.Entries = append(resp.Entries, ledgerEntryProto(e))
	}
	return resp, nil
}

// GetPricing implements enhancev1.UsageServiceServer.
func (s *UsageServer) GetPricing(context.Context, *enhancev1.GetPricingRequest) (*enhancev1.GetPricingResponse, error) {
	resp := &enhancev1.GetPricingResponse{Prices: []*enhancev1.Price{
		{Operation: credits.OpEnhance, Credits: credits.PriceEnhance},
		{Operation: credits.OpUpscale, Credits: 1, Unit: "started " + strconv.Itoa(credits.UpscalePixelsPerCredit/1_000_000) + " megapixels of output"},
		{Operation: credits.OpColorize, Credits: credits.PriceColorize},
	}}
	for _, p := range credits.Plans {
		resp.Plans = append(resp.Plans, &enhancev1.Plan{
			Name: p.Name, MonthlyCredits: int32(p.MonthlyCredits), RequestsPerMinute: int32(p.RequestsPerMinute),
		})
	}
	sort.Slice(resp.Plans, func(i, j int) bool { return resp.Plans[i].MonthlyCredits < resp.Plans[j].MonthlyCredits })
	return resp, nil
}
