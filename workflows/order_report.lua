-- The "process" step of order-report: shapes the report that is encoded
-- and published, and counts the order's lines and quantities.
return function(input, ctx)
  local total_qty = 0
  for _, item in ipairs(input.items) do
    total_qty = total_qty + item.qty
  end
  ctx.log("info", "order %s: %d line(s), %d item(s)", input.id,
    #input.items, total_qty)
  return {
    order = input.id,
    customer = input.customer,
    lines = input.items,
    line_count = #input.items,
    total_qty = total_qty,
    first_sku = input.items[1] and input.items[1].sku or ctx.json.null,
    summary = "order " .. input.id .. " for " .. input.customer,
    run = ctx.run_id,
  }
end
