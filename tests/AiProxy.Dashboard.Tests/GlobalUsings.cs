global using AiProxy.AspNetCore.Tests.Infrastructure;
global using AiProxy.Dashboard.Tests.Infrastructure;
global using AiProxy.FakeUpstream;
global using NUnit.Framework;
global using FakeServer = AiProxy.FakeUpstream.FakeUpstream;
