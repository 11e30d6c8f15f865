-- The "process" step of background-task: prices the decoded order with
-- the customer the lookup step fetched. Amounts are integer cents, so no
-- rounding creeps in; the discount is the customer's, rounded down.
return function(input, ctx)
  local order = ctx.steps.decode
  local customer = input.body
  if type(customer) ~= "table" or customer.id == nil then
    error(ctx.fatal("lookup of " .. order.customer ..
      " did not answer a customer record"))
  end
  local pct = math.tointeger(customer.discount_pct) or 0
  local lines, subtotal, units = {}, 0, 0
  for i, item in ipairs(order.items) do
    local amount = item.qty * item.price_cents
    lines[i] = { sku = item.sku, qty = item.qty,
      price_cents = item.price_cents, amount_cents = amount }
    subtotal = subtotal + amount
    units = units + item.qty
  end
  local discount = subtotal * pct // 100
  ctx.log("info", "order %s for %s: %d line(s), total %d cents",
    order.order, customer.id, #lines, subtotal - discount)
  return {
    order = order.order,
    customer = { id = customer.id, name = customer.name,
      tier = customer.tier, email = customer.email },
    currency = customer.currency or "EUR",
    lines = #lines > 0 and lines or ctx.json.null,
    units = units,
    subtotal_cents = subtotal,
    discount_pct = pct,
    discount_cents = discount,
    total_cents = subtotal - discount,
    run_id = ctx.run_id,
  }
end
