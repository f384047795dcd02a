"""ClientArea: customer portal and billing for hosting providers."""
