package console

import "net/http"

// apiReferencePage shows the API's description, rendered here from the
// OpenAPI document the API serves at /api/v1/openapi.json.
func (c *Console) apiReferencePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if c.reference == nil {
		c.errorPage(w, r, v, http.StatusNotFound, "This server has no API description.")
		return
	}
	ref, err := c.reference()
	if err != nil {
		c.failPage(w, r, v, err, "The API reference is")
		return
	}
	c.render(w, http.StatusOK, "api.html", map[string]any{"Title": "API reference", "Viewer": v, "Nav": "api", "Ref": ref})
}
