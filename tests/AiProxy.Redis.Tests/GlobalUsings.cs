global using AiProxy.AspNetCore.Tests.Infrastructure;
global using AiProxy.Redis.Tests;
global using AiProxy.Redis.Tests.Infrastructure;
global using NUnit.Framework;
global using FakeServer = AiProxy.FakeUpstream.FakeUpstream;
global using AiProxy.FakeUpstream;
