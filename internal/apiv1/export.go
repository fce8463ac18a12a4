package apiv1

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/store"
)

// exportProto is the wire form of an account export. account.Export has
// already left out every secret hash; nothing here adds one back.
func exportProto(ex account.Export) *enhancev1.ExportAccountResponse {
	acct := accountProto(ex.Account)
	acct.Plan = ex.Account.Plan
	resp := &enhancev1.ExportAccountResponse{Account: acct}
	for _, k := range ex.Keys {
		resp.ApiKeys = append(resp.ApiKeys, exportKeyProto(k))
	}
	for _, k := range ex.RevokedKeys {
		resp.RevokedApiKeys = append(resp.RevokedApiKeys, exportKeyProto(k))
	}
	for _, s := range ex.Sessions {
		resp.Sessions = append(resp.Sessions, exportSessionProto(s))
	}
	for _, e := range ex.AuditEvents {
		resp.AuditEvents = append(resp.AuditEvents, auditProto(e))
	}
	for _, e := range ex.Ledger {
		resp.LedgerEntries = append(resp.LedgerEntries, ledgerEntryProto(e))
	}
	for _, c := range ex.IdempotentCalls {
		resp.IdempotencyRecords = append(resp.IdempotencyRecords, &enhancev1.IdempotencyRecord{
			Key: c.Key, CreateTime: timestamppb.New(c.CreateTime), Done: c.Done,
		})
	}
	return resp
}

// exportKeyProto is apiKeyProto with the revoke time, which only exports
// show (other methods list live keys only).
func exportKeyProto(k store.APIKey) *enhancev1.ApiKey {
	p := apiKeyProto(k)
	if !k.RevokeTime.IsZero() {
		p.RevokeTime = timestamppb.New(k.RevokeTime)
	}
	return p
}

// exportSessionProto names a session by its id, which is not secret on
// its own; the token and its hash are never shown.
func exportSessionProto(s store.Session) *enhancev1.Session {
	return &enhancev1.Session{
		Name:          "sessions/" + s.ID,
		CreateTime:    timestamppb.New(s.CreateTime),
		ExpireTime:    timestamppb.New(s.ExpireTime),
		ClientAddress: s.ClientAddress,
	}
}

// ledgerEntryProto is a ledger entry as usage and exports show it.
func ledgerEntryProto(e store.LedgerEntry) *enhancev1.LedgerEntry {
	p := &enhancev1.LedgerEntry{
		Kind: e.Kind, Operation: e.Operation, Credits: int32(e.Amount), State: e.State, Reason: e.Reason,
		RequestId: e.RequestID, Time: timestamppb.New(e.Time), PeriodStart: timestamppb.New(e.PeriodStart),
	}
	if e.KeyID != "" {
		p.Key = "keys/" + e.KeyID
	}
	return p
}
