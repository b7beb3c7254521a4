-- Argo CD health of a cutover RecoveryVault, MigrationPlan or ReplicatedMachine, from the
-- conditions the controller writes (docs/gitops.md): Stalled -> Degraded, waiting for a
-- person's decision (approval, the window, a test VM to validate) -> Suspended, Reconciling ->
-- Progressing, otherwise Healthy. A status older than the spec is Progressing.
local hs = { status = "Progressing", message = "waiting for the cutover controller" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "the controller has not looked at the latest spec yet"
  return hs
end
local awaiting = {
  AwaitingApproval = true,
  AwaitingWindow = true,
  WaitingForCutover = true,
  WaitingForValidation = true,
  WaitingForTestFailover = true,
}
local reconciling, stalled
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Reconciling" then reconciling = condition end
  if condition.type == "Stalled" then stalled = condition end
end
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = stalled.message }
end
if reconciling ~= nil and reconciling.status == "True" then
  return { status = "Progressing", message = reconciling.message }
end
if reconciling ~= nil and awaiting[reconciling.reason] then
  return { status = "Suspended", message = reconciling.message }
end
if reconciling == nil then
  return hs
end
return { status = "Healthy", message = reconciling.message }
