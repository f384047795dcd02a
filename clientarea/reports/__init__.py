"""Back-office dashboard and reports: charts, the sales book, payments, aging and balances, exports."""
