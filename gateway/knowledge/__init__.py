"""Knowledge: per-tenant RAG collections and the intent router."""
