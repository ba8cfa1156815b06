package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// keyJSON is a key as the API shows it: never its token or hash.
type keyJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes"`
	CreatedAt  string   `json:"created_at"`
	LastUsedAt *string  `json:"last_used_at" jsonschema:"nullable"`
	RevokedAt  *string  `json:"revoked_at" jsonschema:"nullable"`
}

func newKeyJSON(k usage.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, Name: k.Name, Scopes: []string{}, CreatedAt: k.CreatedAt.Format(time.RFC3339)}
	for _, s := range k.Scopes {
		out.Scopes = append(out.Scopes, string(s))
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt.Format(time.RFC3339)
		out.LastUsedAt = &t
	}
	if k.Revoked() {
		t := k.RevokedAt.Format(time.RFC3339)
		out.RevokedAt = &t
	}
	return out
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	keys, err := s.meta.Keys(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, newKeyJSON(k))
	}
	writeJSON(w, http.StatusOK, list[keyJSON]{Items: out})
	return nil
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body keyRequest
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	var scopes []usage.Scope
	for _, sc := range body.Scopes {
		parsed, err := usage.ParseScope(sc)
		if err != nil {
			return usage.Errorf(usage.EInvalid, "scopes: %s", usage.ErrorMessage(err))
		}
		scopes = append(scopes, parsed)
	}
	token, key, err := usage.NewKey(c.Workspace.ID, body.Name, scopes, s.now())
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.CreateKey(r.Context(), key); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditKeyCreate, key.ID, map[string]any{"name": key.Name, "scopes": key.Scopes}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdKey{Token: token, Key: newKeyJSON(key)})
	return nil
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.RevokeKey(r.Context(), c.Workspace.ID, r.PathValue("id"), s.now()); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditKeyRevoke, r.PathValue("id"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// settingsJSON is the settings document of the HTTP contract.
type settingsJSON struct {
	Privacy struct {
		AnonymizeUsers bool `json:"anonymize_users"`
		AnonymizeIPs   bool `json:"anonymize_ips"`
	} `json:"privacy"`
	Timezone       string `json:"timezone"`
	ExportRowLimit int64  `json:"export_row_limit"`
	RetentionDays  int    `json:"retention_days"`
}

func newSettingsJSON(st usage.Settings) settingsJSON {
	var out settingsJSON
	out.Privacy.AnonymizeUsers, out.Privacy.AnonymizeIPs = st.AnonymizeUsers, st.AnonymizeIPs
	out.Timezone, out.ExportRowLimit, out.RetentionDays = st.Timezone, st.ExportRowLimit, st.RetentionDays
	return out
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.meta.Settings(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSettingsJSON(st))
	return nil
}

// SettingsPatch is a partial settings document: absent fields stay as
// they are. The console's settings form builds one too.
type SettingsPatch struct {
	Privacy *struct {
		AnonymizeUsers *bool `json:"anonymize_users"`
		AnonymizeIPs   *bool `json:"anonymize_ips"`
	} `json:"privacy"`
	Timezone       *string `json:"timezone"`
	ExportRowLimit *int64  `json:"export_row_limit"`
	RetentionDays  *int    `json:"retention_days"`
}

// MaxExportRowLimit bounds the export_row_limit setting.
const MaxExportRowLimit = 100_000_000

// Apply validates p and applies it to st, naming every field at fault.
func (p SettingsPatch) Apply(st usage.Settings) (usage.Settings, error) {
	var errs []string
	if p.Privacy != nil {
		if p.Privacy.AnonymizeUsers != nil {
			st.AnonymizeUsers = *p.Privacy.AnonymizeUsers
		}
		if p.Privacy.AnonymizeIPs != nil {
			st.AnonymizeIPs = *p.Privacy.AnonymizeIPs
		}
	}
	if p.Timezone != nil {
		if _, err := usage.LoadLocation(*p.Timezone); err != nil || *p.Timezone == "" {
			errs = append(errs, fmt.Sprintf("timezone: unknown timezone %q", *p.Timezone))
		} else {
			st.Timezone = *p.Timezone
		}
	}
	if p.ExportRowLimit != nil {
		if *p.ExportRowLimit < 0 || *p.ExportRowLimit > MaxExportRowLimit {
			errs = append(errs, fmt.Sprintf("export_row_limit: %d is out of range (0 for the server default, up to %d)", *p.ExportRowLimit, MaxExportRowLimit))
		} else {
			st.ExportRowLimit = *p.ExportRowLimit
		}
	}
	if p.RetentionDays != nil {
		if *p.RetentionDays < 0 || *p.RetentionDays > usage.MaxRetentionDays {
			errs = append(errs, fmt.Sprintf("retention_days: %d is out of range (0 keeps events forever, else 1 to %d)", *p.RetentionDays, usage.MaxRetentionDays))
		} else {
			st.RetentionDays = *p.RetentionDays
		}
	}
	if len(errs) > 0 {
		return st, usage.Errorf(usage.EInvalid, "%s", strings.Join(errs, "; "))
	}
	return st, nil
}

func (s *Server) handlePatchSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	var p SettingsPatch
	if err := decodeJSONBody(w, r, &p); err != nil {
		return err
	}
	st, err := s.meta.Settings(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	before := st
	if st, err = p.Apply(st); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.SaveSettings(r.Context(), c.Workspace.ID, st); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditSettingsUpdate, "settings", usage.SettingsChanges(before, st)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSettingsJSON(st))
	return nil
}

// maxJSONBody bounds small JSON request bodies: the largest is a
// workspace's classification rules (usage.MaxRules of usage.MaxRuleLength
// fields).
const maxJSONBody = 512 << 10

// decodeJSONBody reads one JSON object, rejecting unknown fields with an
// error that names them: a misspelt setting is not silently dropped.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSON(w, r, v, true)
}

// decodeSeedBody reads one JSON object of a seed's API, ignoring fields
// it does not know: that API's clients may send more than it needs.
func decodeSeedBody(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSON(w, r, v, false)
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooLarge):
			return usage.Refusal(usage.GatewayPayloadTooLarge, fmt.Sprintf("Payload too large: the body exceeds %d bytes", maxJSONBody))
		case errors.As(err, &typeErr):
			return usage.Errorf(usage.EInvalid, "field %q: must not be %s", typeErr.Field, typeErr.Value)
		case errors.Is(err, io.EOF):
			return usage.Errorf(usage.EInvalid, "the body must be a JSON object")
		}
		return usage.Errorf(usage.EInvalid, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return usage.Errorf(usage.EInvalid, "invalid JSON body: trailing data")
	}
	return nil
}
