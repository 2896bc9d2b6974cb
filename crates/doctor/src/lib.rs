//! The troubleshooter: knowledge base, inference, decision-theoretic repair planning.
