"""RFQ auctions: requests, maker quotes, awards, market-maker protection, and their REST/WS routes."""
