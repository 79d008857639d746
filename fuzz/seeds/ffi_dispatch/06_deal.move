deal.move
{"id": "$D0", "version": 2, "stage": "negotiation"}